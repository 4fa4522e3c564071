"""Secret redaction: applied to everything before it is stored, logged, returned or pushed.

The shapes follow gitleaks' rule list (the widely used, hand-curated set): assignments
to secret-looking names (``DB_PASSWORD=…``, ``aws_secret_access_key = …``, JSON
``"password": "…"``), authorization headers, credentials in URLs, private key blocks
(PEM and PGP), JWTs and the well-known token formats. Hand-written regexes rather than
detect-secrets: its import alone costs a CLI verb more than the whole verb may take.

:data:`SHAPES` is the table the docs show; :func:`findings` says which shape matched
where (``scribe-ls redact --check``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

REDACTED = "[REDACTED]"


class Shape:
    """One secret shape. Its pattern is compiled on first use: most text never gets past
    the trigger test, and a CLI verb would otherwise pay ~10 ms compiling all of them."""

    __slots__ = ("_pattern", "description", "flags", "keep_prefix", "keep_suffix", "name", "source")

    def __init__(
        self,
        name: str,
        description: str,
        source: str,
        # Group 1, when the pattern has it, is kept (the key or the scheme); the rest goes.
        keep_prefix: bool = False,
        keep_suffix: bool = False,
        flags: int = 0,
    ) -> None:
        self.name = name
        self.description = description
        self.source = source
        self.keep_prefix = keep_prefix
        self.keep_suffix = keep_suffix
        self.flags = flags
        self._pattern: re.Pattern[str] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            self._pattern = re.compile(self.source, self.flags)
        return self._pattern


_SECRET_NAMES = (
    r"pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|client[_-]?secret|auth[_-]?token|credentials?|session[_-]?key"
)

SHAPES: tuple[Shape, ...] = (
    Shape(
        "private-key",
        "PEM and PGP private key blocks (-----BEGIN … PRIVATE KEY-----)",
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
        flags=re.DOTALL,
    ),
    Shape(
        "authorization-header",
        "Authorization: Basic/Bearer/Token/Digest … credentials",
        r"(?i)(\bauthorization\b[\"']?\s*[:=]\s*[\"']?(?:basic|bearer|token|digest)\s+)[^\s\"',;]+",
        keep_prefix=True,
    ),
    Shape(
        "bearer-token",
        "Bearer <token> anywhere",
        r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}",
        keep_prefix=True,
    ),
    Shape(
        "url-credentials",
        "user:password@ in a URL (https://user:pw@host)",
        r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@\"']+:)[^\s@/\"']+(@)",
        keep_prefix=True,
        keep_suffix=True,
    ),
    Shape(
        "secret-assignment",
        "a secret-looking name set to a value: password=…, DB_PASSWORD=…, "
        'aws_secret_access_key = …, "password": "…", token: …',
        r"(?i)((?<![A-Za-z0-9])[A-Za-z0-9_.-]*?(?:" + _SECRET_NAMES + r")[A-Za-z0-9_.-]*[\"']?"
        r"\s*(?:=>|=|:)\s*)(\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'<>]+)",
        keep_prefix=True,
    ),
    Shape(
        "jwt",
        "JSON Web Tokens (eyJ….eyJ….…)",
        r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    ),
    Shape(
        "slack-webhook",
        "Slack incoming webhook URLs",
        r"(?i)https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]+",
    ),
    Shape(
        "slack-token",
        "Slack tokens (xoxb-, xoxp-, xapp-, …)",
        r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{10,}",
    ),
    Shape(
        "github-token",
        "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
    ),
    Shape("gitlab-token", "GitLab personal access tokens (glpat-)", r"\bglpat-[A-Za-z0-9_-]{20,}"),
    Shape(
        "aws-access-key-id",
        "AWS access key ids (AKIA…, ASIA…)",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b",
    ),
    Shape(
        "stripe-key",
        "Stripe secret and restricted keys (sk_live_, rk_live_, sk_test_)",
        r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,}",
    ),
    Shape("google-api-key", "Google API keys (AIza…)", r"\bAIza[0-9A-Za-z_-]{35}"),
    Shape("openai-key", "OpenAI-style keys (sk-…, sk-proj-…)", r"\bsk-[A-Za-z0-9_-]{20,}"),
    Shape("npm-token", "npm access tokens (npm_)", r"\bnpm_[A-Za-z0-9]{36}\b"),
    Shape(
        "pypi-token",
        "PyPI upload tokens (pypi-AgEIcHlwaS5vcmc…)",
        r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{40,}",
    ),
)

# Every shape needs one of these (lowercased) words, so most text, and almost every diff
# line, skips the regexes after one lowercase and a few substring tests (a case-insensitive
# alternation is ~40x slower here). URL credentials need both "://" and "@".
_TRIGGERS = (
    "pass", "pwd", "secret", "token", "key", "auth", "bearer", "credential", "-----begin",
    "eyj", "hooks.slack", "xox", "xapp-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_",
    "glpat-", "akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva", "aipa",
    "sk_", "rk_", "aiza", "sk-", "npm_", "pypi-",
)  # fmt: skip


def may_hold_secret(text: str) -> bool:
    """False when no shape can match: the cheap test before any regex runs."""
    lowered = text.lower()
    if "://" in lowered and "@" in lowered:
        return True
    return any(trigger in lowered for trigger in _TRIGGERS)


def _replacement(shape: Shape, match: re.Match[str]) -> str:
    prefix = match.group(1) if shape.keep_prefix else ""
    suffix = match.group(match.re.groups) if shape.keep_suffix else ""
    return prefix + REDACTED + suffix


def redact(text: str) -> str:
    if not text or not may_hold_secret(text):
        return text
    for shape in SHAPES:
        text = shape.pattern.sub(lambda m, s=shape: _replacement(s, m), text)
    return text


def redact_all(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(redact(value) for value in values)


class Finding(NamedTuple):
    shape: str
    start: int
    end: int


def findings(text: str) -> list[Finding]:
    """Where each shape matches in ``text`` (before any redaction), in order."""
    if not may_hold_secret(text):
        return []
    found = [
        Finding(shape.name, match.start(), match.end())
        for shape in SHAPES
        for match in shape.pattern.finditer(text)
        if REDACTED not in match.group(0)
    ]
    return sorted(found, key=lambda f: (f.start, f.end))
