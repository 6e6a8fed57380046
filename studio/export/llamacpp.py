"""llama.cpp's own tools, pinned: its GGUF converters (from the llama-cpp-python source release) and, with the
optional ``gguf`` extra, its quantizer and runtime (``llama-cpp-python``).

The converter scripts (``convert_hf_to_gguf.py``, ``convert_lora_to_gguf.py``, their ``conversion`` package and
llama.cpp's ``gguf-py``) are taken once from PyPI's source distribution of llama-cpp-python ``VERSION``
(checked against its SHA-256) into ``<studio cache>/llama.cpp-VERSION/`` and run as a subprocess, so their
``gguf-py`` never mixes with the ``gguf`` package that transformers uses. ``scripts/setup.sh`` fetches them;
``python -m studio.export.llamacpp`` does the same by hand. ``STUDIO_LLAMA_CPP_SDIST`` names a downloaded
sdist to take them from (a machine without internet).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Callable

from studio.core.errors import StudioError

VERSION = "0.3.36"
SDIST = f"llama_cpp_python-{VERSION}.tar.gz"
SDIST_SHA256 = "832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e"
PARTS = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/", "LICENSE")
CONVERTER_TYPES = ("f16", "q8_0")          # written by the converter itself
QUANTIZER_TYPES = {"q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M"}  # need llama.cpp's quantizer (the extra)
EXTRA_HINT = "pip install 'finetune-studio[gguf]'"

Progress = Callable[[float, str], None]


def converter_dir() -> Path:
    from studio.core.models import cache_dir

    return cache_dir() / f"llama.cpp-{VERSION}"


def ensure_converter(report: Progress | None = None) -> Path:
    """The folder with llama.cpp's converters, fetched and unpacked on first use."""
    target = converter_dir()
    if (target / "convert_hf_to_gguf.py").exists() and (target / "gguf-py").is_dir():
        return target
    report = report or (lambda f, m: None)
    local = os.environ.get("STUDIO_LLAMA_CPP_SDIST", "").strip()
    with tempfile.TemporaryDirectory(prefix="studio-llamacpp-") as tmp:
        if local:
            sdist = Path(local).expanduser()
            if not sdist.is_file():
                raise StudioError(f"STUDIO_LLAMA_CPP_SDIST: {local} is not a file; give the path of {SDIST}")
        else:
            report(0.01, f"fetching llama.cpp's converter (llama-cpp-python {VERSION} source, 77 MB, once)")
            sdist = _download(Path(tmp))
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            raise StudioError(f"{sdist.name} is not llama-cpp-python {VERSION}'s source release (SHA-256 {digest[:12]}…); "
                              f"download {SDIST} from PyPI again")
        _unpack(sdist, target)
    return target


def _download(folder: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet",
           f"llama-cpp-python=={VERSION}", "-d", str(folder)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(folder.glob("llama_cpp_python-*.tar.gz"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise StudioError(
            f"GGUF export needs llama.cpp's converter, which is fetched once from PyPI (llama-cpp-python {VERSION} "
            f"source), and the download failed ({last[:160]}). Run scripts/setup.sh on a machine with internet, or "
            f"download {SDIST} elsewhere and set STUDIO_LLAMA_CPP_SDIST to its path")
    return found[0]


def _unpack(sdist: Path, target: Path) -> None:
    prefix = f"llama_cpp_python-{VERSION}/vendor/llama.cpp/"
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    try:
        with tarfile.open(sdist, "r:gz") as tar:
            members = []
            for m in tar.getmembers():
                rel = m.name[len(prefix):] if m.name.startswith(prefix) else ""
                if rel and any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in PARTS) and (m.isfile() or m.isdir()):
                    m.name = rel
                    members.append(m)
            tar.extractall(partial, members=members, filter="data")
        if not (partial / "convert_hf_to_gguf.py").exists():
            raise StudioError(f"{sdist.name} holds no convert_hf_to_gguf.py; it is not the expected release")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def supported_architectures(conv: Path) -> set[str]:
    """The text-model architectures (``config.json``'s ``architectures``) the pinned converter handles."""
    proc = subprocess.run([sys.executable, str(conv / "convert_hf_to_gguf.py"), "--print-supported-models"],
                          capture_output=True, text=True, env=_env())
    names, text_models = set(), False
    for line in (proc.stderr + proc.stdout).splitlines():
        if re.search(r"\bTEXT models:", line):
            text_models = True
        elif re.search(r"\b[A-Z]+ models:", line):
            text_models = False
        elif text_models and (m := re.search(r"  - (\S+)$", line)):
            names.add(m.group(1))
    return names


def convert(model_dir: Path, outfile: Path, outtype: str, report: Progress | None = None,
            lora_base: Path | str | None = None) -> None:
    """Run llama.cpp's converter on a Hugging Face model folder (or, with ``lora_base``, a PEFT adapter on that
    base: a folder, or a Hub id whose config the converter fetches)."""
    conv = ensure_converter(report)
    if lora_base is None:
        cmd = [sys.executable, str(conv / "convert_hf_to_gguf.py"), str(model_dir)]
    else:
        where = "--base" if Path(lora_base).is_dir() else "--base-model-id"  # a local folder, or a Hub id
        cmd = [sys.executable, str(conv / "convert_lora_to_gguf.py"), str(model_dir), where, str(lora_base)]
    cmd += ["--outfile", str(outfile), "--outtype", outtype]
    report = report or (lambda f, m: None)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=_env())
    tail: list[str] = []
    buffer = b""
    while chunk := proc.stdout.read(256):
        buffer += chunk
        *lines, buffer = re.split(rb"[\r\n]", buffer)
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            tail = (tail + [line])[-30:]
            if m := re.search(r"Writing:\s+(\d+)%", line):
                report(int(m.group(1)) / 100, f"writing {outfile.name}: {m.group(1)}%")
    if proc.wait() != 0:
        outfile.unlink(missing_ok=True)
        raise StudioError(_converter_message(tail, model_dir))


def _converter_message(tail: list[str], model_dir: Path) -> str:
    text = "\n".join(tail)
    if m := re.search(r"Model (\S+) is not supported", text):
        return (f"llama.cpp's converter ({VERSION}) does not support the architecture {m.group(1)}; GGUF export "
                "works for the architectures llama.cpp runs (Llama, Qwen, Mistral, Gemma, Phi, SmolLM, ...)")
    errors = [line for line in tail if "Error" in line or "error" in line] or tail[-1:] or ["no output"]
    return f"llama.cpp's converter failed on {model_dir.name}: {errors[-1][:300]}"


def _env() -> dict:
    env = dict(os.environ)
    env.pop("NO_LOCAL_GGUF", None)  # the converter must use its own gguf-py, not the installed gguf package
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def has_llama_cpp() -> bool:
    import importlib.util

    return importlib.util.find_spec("llama_cpp") is not None


def missing_extra(what: str) -> str:
    """Why ``what`` is not available here, and how to get it (the extra builds llama.cpp from source)."""
    tools = [t for t in ("cmake", "c++") if not shutil.which(t)]
    build = (f"; it builds llama.cpp from source and needs a build toolchain, and {' and '.join(tools)} "
             "is missing here (on Debian/Ubuntu: apt-get install cmake g++)" if tools
             else " (it builds llama.cpp from source: a few minutes)")
    return f"{what} needs llama.cpp itself, from the optional extra: {EXTRA_HINT}{build}"


def quantize(src: Path, dst: Path, quant: str) -> None:
    """Quantize a GGUF file with llama.cpp's quantizer (in a subprocess: a crash there cannot take the app down)."""
    if quant not in QUANTIZER_TYPES:
        raise StudioError(f"unknown llama.cpp quantisation {quant}; choose one of {', '.join(QUANTIZER_TYPES)}")
    if not has_llama_cpp():
        raise StudioError(missing_extra(f"the {quant} quantisation"))
    code = ("import ctypes, sys, llama_cpp as l\n"
            "p = l.llama_model_quantize_default_params()\n"
            f"p.ftype = l.{QUANTIZER_TYPES[quant]}\n"
            f"p.nthread = {os.cpu_count() or 1}\n"
            "sys.exit(l.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(p)))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(src), str(dst)], capture_output=True, text=True)
    if proc.returncode != 0 or not dst.exists():
        dst.unlink(missing_ok=True)
        last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise StudioError(f"llama.cpp's quantizer could not make {quant} from {src.name}: {last[:300]}")


if __name__ == "__main__":  # scripts/setup.sh: fetch the converter once
    try:
        print(f"llama.cpp converter {VERSION} ready at {ensure_converter(lambda f, m: print(m))}")
    except StudioError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
