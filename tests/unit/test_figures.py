"""The shared chart look: legends never over titles, counts on whole numbers, gaps as bands,
stacked areas that break at a gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.core import figures
from dashboard.core.timeseries import Gap

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_title_on_top_legend_at_the_bottom_figure_grows_with_legend_rows() -> None:
    short = go.Figure([go.Scatter(x=[1], y=[1], name="a"), go.Scatter(x=[1], y=[1], name="b")])
    figures.finish_figure(short, "Title", "y", None)
    assert (short.layout.title.yref, short.layout.title.yanchor) == ("container", "top")
    assert (short.layout.legend.yref, short.layout.legend.y, short.layout.legend.yanchor) == (
        "container", 0, "bottom")
    assert short.layout.height == figures.CHART_HEIGHT
    names = [f"statement number {i} with a long name" for i in range(9)]
    long = go.Figure([go.Scatter(x=[1], y=[1], name=n) for n in names])
    figures.finish_figure(long, "Title", "y", None)
    rows = figures.legend_rows(names)
    assert rows > 1
    assert long.layout.height == figures.CHART_HEIGHT + figures.LEGEND_ROW_PX * (rows - 1)


def test_legend_rows_as_plotly_wraps_them() -> None:
    """One row while every entry fits, else columns as wide as the widest entry; the rows
    Chromium drew for these legends on a half-page chart."""
    assert figures.legend_rows(["commits/s", "rollbacks/s"]) == 1
    assert figures.legend_rows(["usable (max_connections − reserved)", "idle in transaction",
                                "idle", "active"]) == 2
    groups = ["autovacuum_status", "database_size", "database_wraparound", "disk_capacity",
              "disk_usage", "index_stats", "schema_size", "table_stats"]
    assert figures.legend_rows(groups) == 3
    assert figures.legend_rows(groups, figures.FULL_WIDTH_LEGEND_ROW_PX) == 1
    assert figures.legend_rows([]) == 0


def test_margins_hold_the_axis_labels_and_the_legend_before_plotly_measures_them() -> None:
    """Plotly draws a chart twice when a margin must grow to fit what it measured."""
    fig = figures.finish_figure(go.Figure([go.Scatter(x=[1], y=[1], name="a")]), "T", "y", None)
    margin = fig.layout.margin
    assert (margin.l, margin.b) == (figures.Y_LABELS_MARGIN_PX, figures.bottom_margin(1))
    bare = figures.finish_figure(go.Figure([go.Scatter(x=[1], y=[1])]), "T", "y", None,
                                 legend=False)
    assert bare.layout.margin.b == figures.X_LABELS_MARGIN_PX


def test_category_axes_get_a_margin_as_wide_as_their_longest_label() -> None:
    short, long = figures.category_margin(["full"]), figures.category_margin(
        ["full", "kasho.public.transactions_account_id_created_at_idx"])
    assert figures.CATEGORY_PAD_PX < short < long
    assert long == round(figures.text_px("kasho.public.transactions_account_id_created_at_idx",
                                         12)) + figures.CATEGORY_PAD_PX


def test_counts_tick_on_whole_numbers() -> None:
    assert [figures.nice_step(v) for v in (0, 3, 5, 7, 12, 37, 240, 1900)] == [
        1, 1, 1, 2, 5, 10, 50, 500]
    fig = figures.whole_number_ticks(go.Figure(), 12)
    assert (fig.layout.yaxis.dtick, fig.layout.yaxis.tickformat, fig.layout.yaxis.tick0) == (
        5, ",d", 0)
    nothing = figures.whole_number_ticks(go.Figure(), 0)
    assert tuple(nothing.layout.yaxis.range) == (0, 1)
    second = figures.whole_number_ticks(go.Figure(), 3, axis="yaxis2")
    assert second.layout.yaxis.dtick is None and second.layout.yaxis2.dtick == 1


def test_gaps_are_bands_named_on_hover_outside_the_legend() -> None:
    fig = figures.add_gaps(go.Figure(), [Gap(T0, T0 + timedelta(minutes=4))])
    band = fig.data[0]
    assert band.showlegend is False and band.yaxis == "y9"
    assert list(band.customdata) == ["no collection from 2026-03-01 10:00:00 to 10:04:00 UTC"]
    assert list(band.width) == [240_000]
    assert fig.layout.yaxis9.visible is False


def test_stacked_areas_break_at_a_gap_and_hover_each_own_value() -> None:
    index = pd.DatetimeIndex([T0 + timedelta(seconds=10 * i) for i in range(3)])
    wide = pd.DataFrame({"CPU": [1.0, np.nan, 2.0], "IO": [0.5, np.nan, 0.0]}, index=index)
    fig = figures.add_stacked_areas(go.Figure(), wide, ["#000000", "#ffffff"])
    cpu, io = fig.data
    assert list(cpu.y[[0, 2]]) == [1.0, 2.0] and np.isnan(cpu.y[1])
    assert list(io.y[[0, 2]]) == [1.5, 2.0] and np.isnan(io.y[1])  # stacked on CPU
    assert list(io.customdata[[0, 2]]) == [0.5, 0.0]  # its own value on hover
    assert (cpu.fill, io.fill) == ("tozeroy", "tonexty")


def test_relayout_gives_the_layout_plotlys_update_methods_give() -> None:
    def built() -> go.Figure:
        fig = go.Figure([go.Scatter(x=[1, 2], y=[3, 4]),
                         go.Scatter(x=[1, 2], y=[5, 6], yaxis="y2")])
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right"},
                          title={"text": "kept", "font": {"size": 15}}, barmode="group")
        return fig

    by_plotly = built()
    by_plotly.update_layout(title={"x": 0}, barmode=None, hovermode="closest",
                            yaxis2={"showgrid": False})
    by_plotly.update_yaxes(rangemode="tozero", title={"text": "n"})
    ours = figures.relayout(built(), {"title": {"x": 0}, "barmode": None, "hovermode": "closest",
                              "yaxis2": {"showgrid": False}},
                    axes={"y": {"rangemode": "tozero", "title": {"text": "n"}}})
    assert ours.layout.to_plotly_json() == by_plotly.layout.to_plotly_json()
    assert ours.layout.title.font.size == 15  # nested settings merge, not replace
    assert ours.layout.barmode is None  # None removes, as in plotly


def test_relayout_leaves_the_gap_bands_axis_alone() -> None:
    fig = figures.add_gaps(go.Figure(go.Scatter(x=[0, 1], y=[0, 9])),
                           [Gap(T0, T0 + timedelta(hours=1))])
    figures.relayout(fig, axes={"y": {"rangemode": "tozero", "range": [0, 10]}})
    assert list(fig.layout.yaxis9.range) == [0, 1]
    assert list(fig.layout.yaxis.range) == [0, 10]
