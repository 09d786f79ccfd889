FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY itsm ./itsm
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
