"""An S3-compatible endpoint over the artifact store, under ``/s3``, path-style."""

# Where the endpoint lives: clients take http://HOST:PORT/s3 as their endpoint URL.
PREFIX = "/s3"
