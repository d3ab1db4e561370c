# The kasho-ops image: one image for the migrate, collector and dashboard services of
# docker-compose.yml, which differ only in their command (`kasho-ops migrate|collect|dashboard`).
# Runtime dependencies only; the healthchecks are per service in docker-compose.yml, since
# each command has its own notion of healthy.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 kasho-ops \
    && useradd --system --uid 10001 --gid kasho-ops --home-dir /home/kasho-ops --create-home \
       --shell /usr/sbin/nologin kasho-ops

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# An editable install: the CLI finds migrations/ and dashboard/app.py next to the collectors
# package (collectors/migrate.py, collectors/cli.py), which only holds for the source tree.
# The files stay root-owned, so the service user cannot change the code it runs.
COPY pyproject.toml ./
COPY collectors/ collectors/
COPY dashboard/ dashboard/
COPY migrations/ migrations/
COPY demo/ demo/
RUN pip install --no-deps -e . \
    && kasho-ops catalog > /dev/null

USER kasho-ops:kasho-ops
ENTRYPOINT ["kasho-ops"]
CMD ["--help"]
