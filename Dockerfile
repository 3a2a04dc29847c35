# The slipway image: the server, the operator and every job and endpoint pod run it.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install . && rm -rf /src
RUN useradd --create-home --uid 1000 slipway && mkdir -p /opt/ml && chown slipway /opt/ml
USER slipway
WORKDIR /home/slipway
EXPOSE 8600 8080
ENTRYPOINT []
CMD ["slipway", "--help"]
