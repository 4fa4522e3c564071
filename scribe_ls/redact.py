"""Secret redaction: applied to everything before it is stored, logged, returned or pushed.

The rule set follows gitleaks' (the widely used, maintained list; rule names are its ids
where one rule stands for one of its own): distinctive token formats (``ghp_…``, ``hf_…``,
``SG.…``, ``dop_v1_…``), vendor names set to a value of the vendor's shape
(``TWILIO_AUTH = "…"``), and the generic shapes: a secret-looking name set to a value
(``DB_PASSWORD=…``, JSON ``"password": "…"``, YAML ``token: …``), authorization headers,
credentials in URLs and connection strings, ``.netrc``, ``mysql -p…``, Docker's and
kubectl's config files, private key blocks and JWTs. The patterns are written here, not
loaded from gitleaks: a CLI verb must not pay for a TOML file and 200 regexes it never runs.

Each rule names the lowercase keywords one of which any match contains: a text is only
searched by the rules whose keywords it holds, found in one pass over the text for all of
them (an Aho-Corasick automaton, pyahocorasick: 200 substring tests would cost a packet
0.5 s per MB of diff), so most text costs one ``lower()`` and that pass. A rule's pattern
is compiled on first use. Every rule carries an
example, which the tests hold it to (:data:`RULES`, ``scribe-ls redact --check`` names it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

REDACTED = "[REDACTED]"


class Rule:
    """One secret shape. Group ``keep`` of the pattern (the key, the scheme) is kept, the
    group ``secret`` replaced; a pattern without them is replaced whole."""

    __slots__ = ("_pattern", "description", "example", "flags", "keywords", "name", "source")
    keywords: frozenset[str]

    def __init__(
        self,
        name: str,
        description: str,
        source: str,
        keywords: tuple[str, ...],
        example: str,
        flags: int = 0,
    ) -> None:
        self.name = name
        self.description = description
        self.source = source
        self.keywords = frozenset(keywords)
        self.example = example
        self.flags = flags
        self._pattern: re.Pattern[str] | None = None

    @property
    def pattern(self) -> re.Pattern[str]:
        if self._pattern is None:
            self._pattern = re.compile(self.source, self.flags)
        return self._pattern


# A value ends at a quote, whitespace, ; , an escaped newline in a string, or the end.
_END = r"(?=[\s\"'`;,.)}\]]|\\[nr]|$)"
# A token ends where its alphabet does.
_TOKEN_END = r"(?![A-Za-z0-9])"
# Between a key and its value: = : => := (with quotes and spaces around, as in code and
# configuration files of every kind).
_SEP = r"[\"']?\s{0,3}(?:=>|:=|=|:)\s{0,3}[\"'`]?"


def token(name: str, description: str, keywords: str, source: str, example: str, flags: int = 0) -> Rule:
    """A token recognisable on its own: a prefix or format no ordinary text has."""
    source = rf"(?<![\w-])(?P<secret>{source}){_TOKEN_END}"
    return Rule(name, description, source, tuple(keywords.split()), example, flags)


def assigned(name: str, description: str, names: str, value: str, example: str) -> Rule:
    """A vendor's name in a key, set to a value of the vendor's shape: the value goes."""
    # Starts at the vendor's name (what precedes it in the key stays as it is): a pattern
    # that could start anywhere would be tried at every position of a diff.
    source = rf"(?i)(?P<keep>(?:{names})[\w.-]{{0,20}}{_SEP})(?P<secret>{value}){_END}"
    keywords = tuple(word.lower() for word in re.findall(r"[a-z0-9]{3,}", names.lower()))
    return Rule(name, description, source, keywords, example)


def _fake(
    length: int, alphabet: str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
) -> str:
    """A deterministic token-looking string for an example (not random: examples are
    documentation and test cases), a different one at each call, so that no example's
    secret is found inside another's."""
    global _fakes
    _fakes += 1
    return "".join(
        alphabet[(index * 7 + index * index * _fakes + _fakes) % len(alphabet)] for index in range(length)
    )


_fakes = 0


_HEX = "0123456789abcdef"
_UPPER_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_UUID_EXAMPLE = "3f2b8c1d-9e4a-4b7c-8d2e-1a6f5c9b0e7d"

_SECRET_NAMES = (
    r"pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|client[_-]?secret|auth[_-]?token|credentials?|session[_-]?key|account[_-]?key|signing[_-]?key"
    r"|encryption[_-]?key|master[_-]?key"
)

RULES: tuple[Rule, ...] = (
    # -- blocks, headers, URLs and files of known formats --------------------------------
    Rule(
        "private-key",
        "PEM, OpenSSH and PGP private key blocks (-----BEGIN … PRIVATE KEY-----)",
        r"-----BEGIN [A-Z0-9 _-]{0,100}PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END [A-Z0-9 _-]{0,100}PRIVATE KEY(?: BLOCK)?-----|\Z)",
        ("-----begin",),
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAsecretbody\n-----END RSA PRIVATE KEY-----",
        re.DOTALL,
    ),
    Rule(
        "authorization-header",
        "Authorization: Basic/Bearer/Token/Digest … credentials",
        r"(?i)(?P<keep>\bauthorization\b[\"']?\s*[:=]\s*[\"']?(?:basic|bearer|token|digest)\s+)(?P<secret>[^\s\"',;]+)",
        ("authorization",),
        "curl -H 'Authorization: Basic dXNlcjpodW50ZXIy' api",
    ),
    Rule(
        "bearer-token",
        "Bearer <token> anywhere",
        r"(?i)(?P<keep>\bbearer\s+)(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
        ("bearer",),
        "sent Bearer abcDEF123456789.tokenpart",
    ),
    Rule(
        "url-credentials",
        "user:password@ in a URL or connection string (https://user:pw@host, postgres://u:p@db)",
        r"(?i)(?P<keep>\b[a-z][a-z0-9+.-]*://[^\s:/@\"']+:)(?P<secret>[^\s@/\"']+)(?P<after>@)",
        ("://",),
        "git clone https://alice:pa55w0rdX@example.com/r.git",
    ),
    Rule(
        "secret-assignment",
        "a secret-looking name set to a value, in code, .env, JSON, YAML, TOML or a connection string:"
        ' password=…, DB_PASSWORD=…, aws_secret_access_key = …, "password": "…", token: …, Password=…;',
        r"(?i)(?P<keep>(?<![A-Za-z0-9])[A-Za-z0-9_.-]*?(?:" + _SECRET_NAMES + r")[A-Za-z0-9_.-]*[\"']?"
        r"\s*(?:=>|:=|=|:)\s*)(?!\[REDACTED\])(?P<secret>\"[^\"\n]*\"|'[^'\n]*'|[^\s,;&\"'<>()]+)",
        ("pass", "pwd", "secret", "token", "key", "credential"),
        "export DB_PASSWORD=hunter2hunter2",
    ),
    Rule(
        "azure-storage-key",
        "Azure storage and Service Bus keys in connection strings (AccountKey=…, SharedAccessKey=…)",
        r"(?i)(?P<keep>\b(?:AccountKey|SharedAccessKey)\s*=\s*)(?P<secret>[A-Za-z0-9+/]{20,}={0,2})",
        ("accountkey", "sharedaccesskey"),
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey="
        + _fake(86, _LETTERS + "0123456789+/")
        + "==;EndpointSuffix=core.windows.net",
    ),
    Rule(
        "netrc-password",
        ".netrc credentials (machine host login user password secret)",
        # Between the words: spaces and line breaks, and in a diff the + or - that starts a line.
        r"(?i)(?P<keep>\b(?:machine|login)(?:\s|(?<=\n)[+-])+\S+(?:\s|(?<=\n)[+-])+"
        r"(?:login(?:\s|(?<=\n)[+-])+\S+(?:\s|(?<=\n)[+-])+)?password(?:\s|(?<=\n)[+-])+)(?P<secret>\S+)",
        ("password",),
        "machine api.example.com\n  login alice\n  password n3tRcS3cr3t",
    ),
    Rule(
        "mysql-password-flag",
        "a password on a MySQL or MariaDB command line (mysql -uroot -pSecret)",
        r"(?P<keep>\b(?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?\s-p)(?P<secret>[^\s'\"-][^\s'\"]*)",
        ("mysql", "mariadb"),
        "mysql -h db -u root -pS3cretRootPw shop",
    ),
    Rule(
        "curl-auth-user",
        "credentials given to curl with -u/--user user:password",
        r"(?P<keep>\bcurl\b[^\n]*?\s(?:-u|--user)[ =]?[\"']?[^\s:\"']+:)(?P<secret>[^\s\"']+)",
        ("curl",),
        "curl -u alice:CurlPassw0rd https://api.example.com",
    ),
    Rule(
        "docker-config-auth",
        'registry credentials in a Docker config ("auths": {"host": {"auth": "base64"}})',
        r"(?i)(?P<keep>\"(?:auth|identitytoken|registrytoken)\"\s*:\s*\")(?P<secret>[A-Za-z0-9+/=_.-]{8,})",
        ('"auth"', "identitytoken", "registrytoken"),
        '{"auths": {"ghcr.io": {"auth": "YWxpY2U6ZG9ja2VyLXNlY3JldA=="}}}',
    ),
    Rule(
        "kubernetes-client-key",
        "client keys and certificates in a kubeconfig (client-key-data: …)",
        r"(?i)(?P<keep>\bclient-(?:key|certificate)-data\s*:\s*[\"']?)(?P<secret>[A-Za-z0-9+/=]{16,})",
        ("client-key-data", "client-certificate-data"),
        "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlF",
    ),
    Rule(
        "slack-webhook-url",
        "Slack incoming webhook URLs",
        r"(?i)https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_+-]+",
        ("hooks.slack.com",),
        "hook https://hooks.slack.com/services/T0001/B0002/abcdefSECRETxyz",
    ),
    Rule(
        "discord-webhook-url",
        "Discord webhook URLs",
        r"(?i)https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[\w-]{20,}",
        ("discord",),
        "https://discord.com/api/webhooks/112233445566778899/" + _fake(68, _LETTERS + "0123456789_-"),
    ),
    Rule(
        "microsoft-teams-webhook",
        "Microsoft Teams incoming webhook URLs",
        r"(?i)https://[a-z0-9-]+\.webhook\.office\.com/webhookb2/[\w@/-]{40,}",
        ("webhook.office.com",),
        f"https://acme.webhook.office.com/webhookb2/{_UUID_EXAMPLE}@{_UUID_EXAMPLE}/IncomingWebhook/"
        + _fake(32, _HEX)
        + f"/{_UUID_EXAMPLE}",
    ),
    Rule(
        "jwt",
        "JSON Web Tokens (eyJ….eyJ….…)",
        r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
        ("eyj",),
        "cookie eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlc2VjcmV0",
    ),
    # -- tokens recognisable on their own ------------------------------------------------
    token("aws-access-token", "AWS access key ids (AKIA…, ASIA…)", "akia asia abia acca a3t",
          r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}", "id AKIAIOSFODNN7EXAMPLE here"),
    token("github-token", "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)", "ghp_ gho_ ghu_ ghs_ ghr_ github_pat_",
          r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,}", "gh ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    token("gitlab-token", "GitLab tokens (glpat-, gldt-, glrt-, glptt-, glcbt-, gloas-, glft-, glimt-, glagent-, glsoat-, glffct-)",
          "glpat- gldt- glrt- glptt- glcbt- gloas- glft- glimt- glagent- glsoat- glffct-",
          r"gl(?:pat|dt|rt|ptt|cbt|oas|ft|imt|agent|soat|ffct)-[\w.-]{20,}", "gl glpat-abcdefghij0123456789xyz"),
    token("gitlab-rrt", "GitLab runner registration tokens (GR1348941…)", "gr1348941", r"GR1348941[\w-]{20}", "GR1348941" + _fake(20)),
    token("gitlab-session-cookie", "GitLab session cookies", "_gitlab_session=", r"_gitlab_session=[0-9a-z]{32}",
          "_gitlab_session=" + _fake(32, _LOWER_ALNUM)),
    token("stripe-access-token", "Stripe secret and restricted keys (sk_live_, rk_live_, sk_test_, …_prod_)",
          "sk_live sk_test sk_prod rk_live rk_test rk_prod", r"(?:sk|rk)_(?:live|test|prod)_[0-9A-Za-z]{10,99}",
          "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    token("gcp-api-key", "Google Cloud API keys (AIza…)", "aiza", r"AIza[\w-]{35}", "maps AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"),
    token("openai-api-key", "OpenAI keys (sk-…, sk-proj-…, sk-svcacct-…)", "sk-", r"sk-(?!ant-)[A-Za-z0-9_-]{20,}",
          "llm sk-proj-abcdefghijklmnopqrstuvwx"),
    token("anthropic-api-key", "Anthropic API and admin keys (sk-ant-api03-…, sk-ant-admin01-…)", "sk-ant-",
          r"sk-ant-(?:api|admin)\d\d-[\w-]{80,}", "sk-ant-api03-" + _fake(93, _LETTERS + "0123456789_-") + "AA"),
    token("npm-access-token", "npm access tokens (npm_…)", "npm_", r"npm_[A-Za-z0-9]{36}", "npm npm_abcdefghijklmnopqrstuvwxyz0123456789"),
    token("pypi-upload-token", "PyPI upload tokens (pypi-AgEIcHlwaS5vcmc…)", "pypi-ageichlwas5vcmc", r"pypi-AgEIcHlwaS5vcmc[\w-]{40,}",
          "pypi pypi-AgEIcHlwaS5vcmcabcdefghijklmnopqrstuvwxyz0123456789ABCD"),
    token("huggingface-access-token", "Hugging Face access tokens (hf_…)", "hf_", r"hf_[A-Za-z]{34}", "HF hf_" + _fake(34, _LETTERS)),
    token("huggingface-organization-api-token", "Hugging Face organization tokens (api_org_…)", "api_org_",
          r"api_org_[A-Za-z]{34}", "api_org_" + _fake(34, _LETTERS)),
    token("sendgrid-api-token", "SendGrid API keys (SG.….…)", "sg.", r"SG\.[\w-]{16,32}\.[\w-]{16,64}",
          "SG." + _fake(22, _LETTERS + "0123456789_-") + "." + _fake(43, _LETTERS + "0123456789_-")),
    token("twilio-api-key", "Twilio API keys (SK + 32 hex)", "sk", r"SK[0-9a-fA-F]{32}", "twilio SK" + _fake(32, _HEX)),
    # Found in bot URLs too (api.telegram.org/bot<token>/getMe): bounded by digits, not words.
    Rule("telegram-bot-api-token", "Telegram bot tokens (123456789:AA…)", r"(?<!\d)(?P<secret>\d{8,10}:AA[\w-]{33})(?![\w-])",
         (":aa",), "bot 7012345678:AA" + _fake(33, _LETTERS + "0123456789_-")),
    token("discord-bot-token", "Discord bot tokens", "discord", r"[MN][A-Za-z\d]{23,25}\.[\w-]{6}\.[\w-]{27,38}",
          "discord bot MTA1Njc4OTAxMjM0NTY3ODkwMQ.GaBcDe." + _fake(38, _LETTERS + "0123456789_-")),
    token("digitalocean-token", "DigitalOcean personal, OAuth and refresh tokens (dop_v1_, doo_v1_, dor_v1_)",
          "dop_v1_ doo_v1_ dor_v1_", r"do[opr]_v1_[a-f0-9]{64}", "DO dop_v1_" + _fake(64, _HEX)),
    token("shopify-token", "Shopify access tokens and shared secrets (shpat_, shpca_, shppa_, shpss_)",
          "shpat_ shpca_ shppa_ shpss_", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", "shop shpat_" + _fake(32, _HEX)),
    token("slack-token", "Slack tokens (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-, xapp-)", "xox xapp-",
          r"(?:xox[abposre](?:\.xox[bp])?|xapp)-[A-Za-z0-9-]{10,}", "bot xoxb-123456789012-abcdefSECRETtok"),
    token("age-secret-key", "age encryption secret keys", "age-secret-key-1",
          r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", "AGE-SECRET-KEY-1" + _fake(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L")),
    token("1password-secret-key", "1Password secret keys (A3-…)", "a3-",
          r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}",
          "A3-ASWWYB-798JRYLJVD4-23DC2-86TVM-H43EB"),
    token("artifactory-api-key", "JFrog Artifactory API keys (AKCp…)", "akcp", r"AKCp[A-Za-z0-9]{69}", "AKCp" + _fake(69)),
    token("atlassian-api-token", "Atlassian API tokens (ATATT3…)", "atatt3", r"ATATT3[\w=-]{180,}", "ATATT3" + _fake(186)),
    token("alibaba-access-key-id", "Alibaba Cloud AccessKey ids (LTAI…)", "ltai", r"LTAI[A-Za-z0-9]{20}", "LTAI" + _fake(20)),
    token("adobe-client-secret", "Adobe client secrets (p8e-…)", "p8e-", r"p8e-[A-Za-z0-9]{32}", "p8e-" + _fake(32)),
    token("azure-ad-client-secret", "Azure AD client secrets (…Q~…)", "q~", r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}",
          "abc8Q~" + _fake(34, _LETTERS + "0123456789_~.")),
    token("clojars-api-token", "Clojars deploy tokens (CLOJARS_…)", "clojars_", r"CLOJARS_[a-z0-9]{60}", "CLOJARS_" + _fake(60, _LOWER_ALNUM),
          re.IGNORECASE),
    token("cloudflare-origin-ca-key", "Cloudflare Origin CA keys (v1.0-…)", "v1.0-", r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}",
          "v1.0-" + _fake(24, _HEX) + "-" + _fake(146, _HEX)),
    token("databricks-api-token", "Databricks tokens (dapi…)", "dapi", r"dapi[a-f0-9]{32}(?:-\d)?", "dapi" + _fake(32, _HEX)),
    token("doppler-api-token", "Doppler tokens (dp.pt.…)", "dp.pt.", r"dp\.pt\.[A-Za-z0-9]{43}", "dp.pt." + _fake(43)),
    token("duffel-api-token", "Duffel API tokens", "duffel_", r"duffel_(?:test|live)_[\w=-]{43}", "duffel_live_" + _fake(43)),
    token("dynatrace-api-token", "Dynatrace API tokens (dt0c01.…)", "dt0c01.", r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}",
          "dt0c01." + _fake(24, _UPPER_ALNUM) + "." + _fake(64, _UPPER_ALNUM)),
    token("easypost-api-token", "EasyPost API keys (EZAK…, EZTK…)", "ezak eztk", r"EZ[AT]K[A-Za-z0-9]{54}", "EZAK" + _fake(54)),
    token("facebook-page-access-token", "Facebook page access tokens (EAAM…, EAAC…)", "eaam eaac", r"EAA[MC][A-Za-z0-9]{100,}",
          "EAAC" + _fake(120)),
    token("flutterwave-key", "Flutterwave keys (FLWSECK_TEST-…, FLWPUBK_TEST-…)", "flwseck flwpubk",
          r"FLW(?:SECK|PUBK)_TEST-[a-hA-H0-9]{12,32}(?:-X)?", "FLWSECK_TEST-" + _fake(32, "0123456789abcdefgh") + "-X"),
    token("flyio-access-token", "Fly.io tokens (fo1_…, fm1a_…, fm2_…)", "fo1_ fm1 fm2_",
          r"fo1_[\w-]{43}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3}", "fo1_" + _fake(43)),
    token("frameio-api-token", "Frame.io API tokens (fio-u-…)", "fio-u-", r"fio-u-[\w=-]{64}", "fio-u-" + _fake(64)),
    token("grafana-token", "Grafana API keys, cloud and service account tokens (eyJrIjoi…, glc_…, glsa_…)",
          "eyjrijoi glc_ glsa_", r"eyJrIjoi[A-Za-z0-9]{70,400}={0,3}|glc_[A-Za-z0-9+/]{32,400}={0,3}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}",
          "glsa_" + _fake(32) + "_" + _fake(8, _HEX)),
    token("harness-api-key", "Harness personal and service account tokens (pat.….….…)", "pat. sat.",
          r"(?:pat|sat)\.[\w-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}", "pat." + _fake(22) + "." + _fake(24) + "." + _fake(20)),
    token("hashicorp-tf-api-token", "Terraform Cloud API tokens (….atlasv1.…)", "atlasv1", r"[a-z0-9]{14}\.atlasv1\.[\w=-]{60,70}",
          _fake(14, _LOWER_ALNUM) + ".atlasv1." + _fake(64)),
    token("heroku-api-key-v2", "Heroku API keys (HRKU-AA…)", "hrku-aa", r"HRKU-AA[\w-]{58}", "HRKU-AA" + _fake(58)),
    token("infracost-api-token", "Infracost API tokens (ico-…)", "ico-", r"ico-[A-Za-z0-9]{32}", "ico-" + _fake(32)),
    token("intra42-client-secret", "42 intra client secrets (s-s4t2ud-…)", "s-s4t2", r"s-s4t2(?:ud|af)-[a-f0-9]{64}", "s-s4t2ud-" + _fake(64, _HEX)),
    token("linear-api-key", "Linear API keys (lin_api_…)", "lin_api_", r"lin_api_[A-Za-z0-9]{40}", "lin_api_" + _fake(40)),
    token("maxmind-license-key", "MaxMind license keys (…_mmk)", "_mmk", r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk",
          _fake(6) + "_" + _fake(29) + "_mmk"),
    token("new-relic-key", "New Relic user, insert and browser keys (NRAK-, NRII-, NRJS-)", "nrak- nrii- nrjs-",
          r"NRAK-[A-Z0-9]{27}|NRII-[a-z0-9-]{32}|NRJS-[a-f0-9]{19}", "NRAK-" + _fake(27, _UPPER_ALNUM)),
    token("notion-api-token", "Notion integration tokens (ntn_…, secret_…)", "ntn_", r"ntn_\d{11}[A-Za-z0-9]{35}",
          "ntn_" + "12345678901" + _fake(35)),
    token("octopus-deploy-api-key", "Octopus Deploy API keys (API-…)", "api-", r"API-[A-Z0-9]{26}", "API-" + _fake(26, _UPPER_ALNUM)),
    token("openshift-user-token", "OpenShift user tokens (sha256~…)", "sha256~", r"sha256~[\w-]{43}", "sha256~" + _fake(43)),
    token("perplexity-api-key", "Perplexity API keys (pplx-…)", "pplx-", r"pplx-[A-Za-z0-9]{48}", "pplx-" + _fake(48)),
    token("planetscale-token", "PlanetScale tokens and passwords (pscale_tkn_, pscale_oauth_, pscale_pw_)", "pscale_",
          r"pscale_(?:tkn|oauth|pw)_[\w=.-]{32,64}", "pscale_pw_" + _fake(43)),
    token("postman-api-token", "Postman API keys (PMAK-…)", "pmak-", r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}",
          "PMAK-" + _fake(24, _HEX) + "-" + _fake(34, _HEX)),
    token("prefect-api-token", "Prefect API keys (pnu_…)", "pnu_", r"pnu_[A-Za-z0-9]{36}", "pnu_" + _fake(36)),
    token("pulumi-api-token", "Pulumi access tokens (pul-…)", "pul-", r"pul-[a-f0-9]{40}", "pul-" + _fake(40, _HEX)),
    token("readme-api-token", "ReadMe API keys (rdme_…)", "rdme_", r"rdme_[a-z0-9]{70}", "rdme_" + _fake(70, _LOWER_ALNUM)),
    token("rubygems-api-token", "RubyGems API keys (rubygems_…)", "rubygems_", r"rubygems_[a-f0-9]{48}", "rubygems_" + _fake(48, _HEX)),
    token("scalingo-api-token", "Scalingo API tokens (tk-us-…)", "tk-us-", r"tk-us-[\w-]{48}", "tk-us-" + _fake(48)),
    token("sendinblue-api-token", "Brevo (Sendinblue) API keys (xkeysib-…)", "xkeysib-", r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}",
          "xkeysib-" + _fake(64, _HEX) + "-" + _fake(16)),
    token("sentry-token", "Sentry user and organization tokens (sntryu_…, sntrys_…)", "sntryu_ sntrys_",
          r"sntryu_[a-f0-9]{64}|sntrys_eyJ[A-Za-z0-9+/=_]{60,}", "sntryu_" + _fake(64, _HEX)),
    token("settlemint-access-token", "SettleMint access tokens (sm_aat_, sm_pat_, sm_sat_)", "sm_aat_ sm_pat_ sm_sat_",
          r"sm_(?:aat|pat|sat)_[A-Za-z0-9]{16}", "sm_pat_" + _fake(16)),
    token("shippo-api-token", "Shippo API tokens (shippo_live_…, shippo_test_…)", "shippo_", r"shippo_(?:live|test)_[a-fA-F0-9]{40}",
          "shippo_live_" + _fake(40, _HEX)),
    token("sourcegraph-access-token", "Sourcegraph access tokens (sgp_…)", "sgp_", r"sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}",
          "sgp_" + _fake(16, _HEX) + "_" + _fake(40, _HEX)),
    token("square-access-token", "Square access tokens and secrets (EAAA…, sq0atp-…, sq0csp-…)", "eaaa sq0atp- sq0csp-",
          r"(?:EAAA|sq0atp-|sq0csp-)[\w-]{22,60}", "sq0atp-" + _fake(22)),
    token("vault-token", "HashiCorp Vault service and batch tokens (hvs.…, hvb.…)", "hvs. hvb.",
          r"hvs\.[\w-]{90,120}|hvb\.[\w-]{138,300}", "hvs." + _fake(95)),
    token("airtable-personal-access-token", "Airtable personal access tokens (pat….…)", "pat",
          r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", "pat" + _fake(14) + "." + _fake(64, _HEX)),
    token("mailchimp-api-key", "Mailchimp API keys (…-us12)", "-us", r"[a-f0-9]{32}-us\d{1,2}", _fake(32, _HEX) + "-us14"),
    token("mailgun-api-key", "Mailgun private and public keys (key-…, pubkey-…)", "key- pubkey-",
          r"(?:pub)?key-[a-f0-9]{32}", "mailgun key-" + _fake(32, _HEX)),
    token("typeform-api-token", "Typeform API tokens (tfp_…)", "tfp_", r"tfp_[\w.=-]{59}", "tfp_" + _fake(59)),
    token("lob-api-key", "Lob API keys (live_…, test_…, live_pub_…)", "live_ test_", r"(?:live|test)_(?:pub_[a-f0-9]{31}|[a-f0-9]{35})",
          "lob live_" + _fake(35, _HEX)),
    token("yandex-token", "Yandex API keys and access tokens (AQVN…, YC…, t1.….…)", "aqvn t1.",
          r"AQVN[\w-]{35,38}|t1\.[\w-]+={0,2}\.[\w-]{86}={0,2}", "AQVN" + _fake(36)),
    # -- a vendor's name in a key, set to a value of its shape -----------------------------
    assigned("twilio-auth-token", "Twilio auth tokens", "twilio", "[a-f0-9]{32}", "TWILIO_AUTH = '" + _fake(32, _HEX) + "'"),
    assigned("discord-api-token", "Discord client secrets and API keys", "discord", r"[a-f0-9]{64}|[\w=-]{32}",
             'discord_client = "' + _fake(32) + '"'),
    assigned("adafruit-api-key", "Adafruit IO keys", "adafruit", r"[\w-]{32}", "ADAFRUIT_IO=" + _fake(32)),
    assigned("algolia-api-key", "Algolia admin and search keys", "algolia", "[a-z0-9]{32}", "algolia_admin: " + _fake(32, _LOWER_ALNUM)),
    assigned("alibaba-secret-key", "Alibaba Cloud secrets", "alibaba", "[a-z0-9]{30}", "alibaba_cloud = " + _fake(30, _LOWER_ALNUM)),
    assigned("asana-client-secret", "Asana client secrets", "asana", "[a-z0-9]{32}|[0-9]{16}", "asana_client=" + _fake(32, _LOWER_ALNUM)),
    assigned("bitbucket-client-secret", "Bitbucket client ids and secrets", "bitbucket", r"[\w=-]{64}|[a-z0-9]{32}",
             "BITBUCKET_CLIENT=" + _fake(32, _LOWER_ALNUM)),
    assigned("cloudflare-api-key", "Cloudflare API and global keys", "cloudflare", r"[\w-]{40}|[a-f0-9]{37}",
             "cloudflare_global: " + _fake(37, _HEX)),
    assigned("codecov-access-token", "Codecov upload tokens", "codecov", "[a-z0-9]{32}|" + _UUID, "CODECOV=" + _UUID_EXAMPLE),
    assigned("cohere-api-token", "Cohere API keys", "cohere|co_api", "[a-z0-9]{40}", "CO_API = " + _fake(40, _LOWER_ALNUM)),
    assigned("coinbase-access-token", "Coinbase access tokens", "coinbase", r"[\w-]{64}", "coinbase: " + _fake(64)),
    assigned("confluent-secret-key", "Confluent keys and secrets", "confluent", "[a-z0-9]{64}|[a-z0-9]{16}",
             "confluent_cloud=" + _fake(64, _LOWER_ALNUM)),
    assigned("contentful-delivery-api-token", "Contentful delivery tokens", "contentful", r"[\w=-]{43}", "contentful: " + _fake(43)),
    assigned("datadog-access-token", "Datadog API and application keys", "datadog", "[a-z0-9]{40}|[a-f0-9]{32}",
             "DATADOG_APP=" + _fake(40, _LOWER_ALNUM)),
    assigned("droneci-access-token", "Drone CI tokens", "drone", "[a-z0-9]{32}", "DRONE_CI=" + _fake(32, _LOWER_ALNUM)),
    assigned("dropbox-api-token", "Dropbox API secrets and tokens", "dropbox", r"sl\.[\w=-]{130,}|[a-z0-9]{11}AAAAAAAAAA[\w=-]{43}|[a-z0-9]{15}",
             "dropbox_app: " + _fake(15, _LOWER_ALNUM)),
    assigned("etsy-access-token", "Etsy API keys", "etsy", "[a-z0-9]{24}", "ETSY=" + _fake(24, _LOWER_ALNUM)),
    assigned("facebook-secret", "Facebook app secrets", "facebook", "[a-f0-9]{32}", "facebook_app = " + _fake(32, _HEX)),
    assigned("fastly-api-token", "Fastly API tokens", "fastly", r"[\w=-]{32}", "FASTLY=" + _fake(32)),
    assigned("finicity-client-secret", "Finicity secrets", "finicity", "[a-f0-9]{32}|[a-z0-9]{20}", "finicity: " + _fake(20, _LOWER_ALNUM)),
    assigned("flickr-access-token", "Flickr API keys", "flickr", "[a-z0-9]{32}", "flickr=" + _fake(32, _LOWER_ALNUM)),
    assigned("freshbooks-access-token", "FreshBooks tokens", "freshbooks", "[a-z0-9]{64}", "freshbooks=" + _fake(64, _LOWER_ALNUM)),
    assigned("gitter-access-token", "Gitter tokens", "gitter", r"[\w-]{40}", "GITTER=" + _fake(40)),
    assigned("gocardless-api-token", "GoCardless live tokens", "gocardless", r"live_[\w=-]{40}", "gocardless: live_" + _fake(40)),
    assigned("heroku-api-key", "Heroku API keys (UUID form)", "heroku", _UUID, "HEROKU_API=" + _UUID_EXAMPLE),
    assigned("hubspot-api-key", "HubSpot API keys", "hubspot", _UUID, "hubspot = " + _UUID_EXAMPLE),
    assigned("intercom-api-key", "Intercom access tokens", "intercom", r"[\w=-]{60}", "intercom: " + _fake(60)),
    assigned("jfrog-api-key", "JFrog API keys and identity tokens", "jfrog|artifactory|bintray", "[a-z0-9]{73}|[a-z0-9]{64}",
             "artifactory_api=" + _fake(73, _LOWER_ALNUM)),
    assigned("kraken-access-token", "Kraken API keys", "kraken", r"[\w/=+-]{80,90}", "kraken: " + _fake(86)),
    assigned("kucoin-secret-key", "KuCoin keys and secrets", "kucoin", "[a-f0-9]{24}|" + _UUID, "KUCOIN=" + _UUID_EXAMPLE),
    assigned("launchdarkly-access-token", "LaunchDarkly access tokens", "launchdarkly", r"[\w=-]{40}", "launchdarkly=" + _fake(40)),
    assigned("linear-client-secret", "Linear client secrets", "linear", "[a-f0-9]{32}", "linear_client=" + _fake(32, _HEX)),
    assigned("linkedin-client-secret", "LinkedIn client ids and secrets", "linked[_-]?in", "[a-z0-9]{16}|[a-z0-9]{14}",
             "linkedin_client: " + _fake(16, _LOWER_ALNUM)),
    assigned("mapbox-api-token", "Mapbox tokens", "mapbox", r"[ps]k\.[a-z0-9]{60}\.[a-z0-9]{22}",
             "MAPBOX=sk." + _fake(60, _LOWER_ALNUM) + "." + _fake(22, _LOWER_ALNUM)),
    assigned("mattermost-access-token", "Mattermost access tokens", "mattermost", "[a-z0-9]{26}", "mattermost=" + _fake(26, _LOWER_ALNUM)),
    assigned("messagebird-api-token", "MessageBird API keys", "message[_-]?bird", "[a-z0-9]{25}|" + _UUID,
             "messagebird: " + _fake(25, _LOWER_ALNUM)),
    assigned("netlify-access-token", "Netlify access tokens", "netlify", r"[\w=-]{40,46}", "NETLIFY_AUTH=" + _fake(43)),
    assigned("nytimes-access-token", "New York Times API keys", "nytimes|newyorktimes", r"[\w=-]{32}", "nytimes=" + _fake(32)),
    assigned("okta-access-token", "Okta API tokens", "okta", r"00[\w=-]{40}", "OKTA_API=00" + _fake(40)),
    assigned("plaid-secret-key", "Plaid secrets and access tokens", "plaid",
             "access-(?:sandbox|development|production)-" + _UUID + "|[a-z0-9]{30}|[a-z0-9]{24}", "plaid: " + _fake(30, _LOWER_ALNUM)),
    assigned("rapidapi-access-token", "RapidAPI keys", "rapidapi", r"[\w-]{50}", "rapidapi=" + _fake(50)),
    assigned("sendbird-access-token", "Sendbird API tokens", "sendbird", "[a-f0-9]{40}|" + _UUID, "sendbird: " + _fake(40, _HEX)),
    assigned("sentry-access-token", "Sentry auth tokens (old form)", "sentry", "[a-f0-9]{64}", "SENTRY_AUTH=" + _fake(64, _HEX)),
    assigned("snyk-api-token", "Snyk API tokens", "snyk", _UUID, "SNYK=" + _UUID_EXAMPLE),
    assigned("sonar-api-token", "SonarQube and SonarCloud tokens", "sonar", r"(?:sq[apu]_)?[\w=-]{40}", "sonar_login=" + _fake(40)),
    assigned("squarespace-access-token", "Squarespace API keys", "squarespace", _UUID, "squarespace=" + _UUID_EXAMPLE),
    assigned("sumologic-access-token", "Sumo Logic access ids and keys", "sumo", "su[a-z0-9]{12}|[a-z0-9]{64}",
             "SUMO_ACCESS=" + _fake(64, _LOWER_ALNUM)),
    assigned("travisci-access-token", "Travis CI tokens", "travis", "[a-z0-9]{22}", "travis: " + _fake(22, _LOWER_ALNUM)),
    assigned("twitch-api-token", "Twitch API tokens", "twitch", "[a-z0-9]{30}", "TWITCH=" + _fake(30, _LOWER_ALNUM)),
    assigned("twitter-api-secret", "Twitter (X) API keys, secrets and access tokens", "twitter",
             "[0-9]{15,25}-[a-z0-9]{20,40}|a{22}[a-z0-9%]{80,100}|[a-z0-9]{50}|[a-z0-9]{45}|[a-z0-9]{25}",
             "twitter_consumer=" + _fake(50, _LOWER_ALNUM)),
    assigned("zendesk-secret-key", "Zendesk API tokens", "zendesk", "[a-z0-9]{40}", "zendesk: " + _fake(40, _LOWER_ALNUM)),
    assigned("beamer-api-token", "Beamer API keys", "beamer", r"b_[\w=-]{44}", "beamer=b_" + _fake(44)),
    assigned("bittrex-access-key", "Bittrex keys and secrets", "bittrex", "[a-z0-9]{32}", "bittrex: " + _fake(32, _LOWER_ALNUM)),
    assigned("finnhub-access-token", "Finnhub API keys", "finnhub", "[a-z0-9]{20}", "finnhub=" + _fake(20, _LOWER_ALNUM)),
    assigned("new-relic-user-api-id", "New Relic API keys (64 characters)", "new[_-]?relic", "[a-z0-9]{64}",
             "new_relic=" + _fake(64, _LOWER_ALNUM)),
)  # fmt: skip

_automaton: Any = None


def _keywords_in(lowered: str) -> set[str]:
    """Every rule keyword that occurs in ``lowered``, in one pass."""
    global _automaton
    if _automaton is None:
        import ahocorasick  # on first use: most CLI verbs redact nothing

        automaton = ahocorasick.Automaton()
        for keyword in {keyword for rule in RULES for keyword in rule.keywords}:
            automaton.add_word(keyword, keyword)
        automaton.make_automaton()
        _automaton = automaton
    return {keyword for _, keyword in _automaton.iter(lowered)}


def may_hold_secret(text: str) -> bool:
    """False when no rule can match: the cheap test before any regex runs."""
    return bool(text) and bool(_keywords_in(text.lower()))


def _candidates(text: str) -> list[Rule]:
    found = _keywords_in(text.lower())
    return [rule for rule in RULES if not rule.keywords.isdisjoint(found)] if found else []


def _replacement(match: re.Match[str]) -> str:
    """The match with its ``secret`` group replaced (the key before it and anything after
    it kept), or replaced whole when the rule has no such group."""
    if "secret" not in match.re.groupindex:
        return REDACTED
    text = match.string
    return text[match.start() : match.start("secret")] + REDACTED + text[match.end("secret") : match.end()]


def redact(text: str) -> str:
    if not text:
        return text
    for rule in _candidates(text):
        text = rule.pattern.sub(_replacement, text)
    return text


def redact_all(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(redact(value) for value in values)


class Finding(NamedTuple):
    shape: str
    start: int
    end: int


def findings(text: str) -> list[Finding]:
    """Where each rule matches in ``text`` (before any redaction), in order."""
    found = [
        Finding(rule.name, match.start(), match.end())
        for rule in _candidates(text)
        for match in rule.pattern.finditer(text)
        if REDACTED not in match.group(0)
    ]
    return sorted(found, key=lambda f: (f.start, f.end))


def rules_markdown() -> str:
    """The rule table of docs/secrets.md (``python -m scribe_ls.redact``)."""
    from .markdown import cell, table

    rows = [
        (f"`{rule.name}`", cell(rule.description), ", ".join(f"`{k}`" for k in sorted(rule.keywords)))
        for rule in RULES
    ]
    return "\n".join(table(("rule", "what", "keywords"), rows)) + "\n"


if __name__ == "__main__":
    print(rules_markdown(), end="")
