"""Container images (docker-archive / OCI layout, read without a daemon) and Dockerfiles."""
