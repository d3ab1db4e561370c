"""Page scripts run by st.navigation (not imported): one file per page, layout only."""
