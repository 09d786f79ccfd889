# GraphiQL's pinned files come from the npm registry, checked against their digests; only the
# files reach the image, not npm.
FROM python:3.11-slim AS graphiql
RUN apt-get update && apt-get install -y --no-install-recommends npm \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "starlette>=0.40"
WORKDIR /src
COPY itsm ./itsm
RUN python -m itsm.graphiql /assets

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY itsm ./itsm
COPY --from=graphiql /assets ./itsm/static/graphiql
COPY core ./core
COPY domain ./domain
COPY graphdb ./graphdb
COPY schema ./schema
COPY resolvers ./resolvers
COPY workers ./workers
RUN pip install --no-cache-dir .
ENV ITSM_HOST=0.0.0.0 ITSM_PORT=8000
EXPOSE 8000
CMD ["itsm", "serve"]
