"""How ``lineal server`` authenticates: :class:`AuthSettings`, checked when made."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument
from .roles import Role, parse_grant

__all__ = ["AuthSettings", "Network"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Asymmetric JWT algorithms only: with a JWKS of public keys, accepting HS256 would let anyone
#: holding the public key sign tokens, and "none" would accept anything.
DEFAULT_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                      "ES256", "ES384", "ES512", "EdDSA")


@dataclass(frozen=True)
class AuthSettings:
    """Everything the :class:`~lineal.auth.Authenticator` needs; invalid values raise
    InvalidArgument here, when the server starts, not at the first request.

    Off by default (``enabled=False``): single-user local use, every request is
    ``local_principal`` (default: the server's OS account), admin everywhere.

    With ``enabled=True``, API tokens always work; OIDC works when ``oidc_issuer`` is set
    (with exactly one of ``oidc_jwks_url`` and ``oidc_jwks_file``); the trusted-proxy header
    when ``proxy_header`` and ``trusted_proxies`` are set.

        AuthSettings(enabled=True, oidc_issuer="https://login.example.com",
                     oidc_audience="lineal",
                     oidc_jwks_url="https://login.example.com/.well-known/jwks.json",
                     oidc_name_claim="email", oidc_role_claim="groups",
                     role_map={"ml-admins": ("admin",), "churn-team": ("writer:churn",)},
                     default_roles=("reader",))
    """

    enabled: bool = False
    local_principal: str | None = None
    """The principal when auth is off; None: :func:`lineal.identity.current_principal`."""
    # -- OIDC -----------------------------------------------------------------------------------
    oidc_issuer: str | None = None
    """The ``iss`` every token must carry; None: OIDC off."""
    oidc_audience: str | None = None
    """The ``aud`` every token must carry (None: tokens with an ``aud`` are refused, as PyJWT
    does)."""
    oidc_jwks_url: str | None = None
    """Where the issuer publishes its keys; fetched on first use, cached for
    ``jwks_cache_s``, fetched again when a token names a key id not in the cache."""
    oidc_jwks_file: Path | None = None
    """A local JWKS document instead of a URL (air-gapped sites); re-read when it changes."""
    oidc_name_claim: str = "sub"
    """The claim that names the principal (``sub``, ``email``, ``preferred_username``...)."""
    oidc_role_claim: str = "roles"
    """The claim holding role names or groups; a dotted path reaches into objects
    (``realm_access.roles``). A list, or a string of space- or comma-separated values."""
    oidc_algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS
    oidc_leeway_s: float = 60.0
    """Clock skew allowed on ``exp``, ``nbf`` and ``iat``."""
    jwks_cache_s: float = 3600.0
    jwks_refetch_min_s: float = 30.0
    """An unknown key id re-fetches the JWKS at most this often (a flood of made-up key ids
    must not become a flood of requests to the issuer)."""
    jwks_timeout_s: float = 10.0
    # -- browser sign-in (the server as an OIDC relying party) ---------------------------------
    oidc_client_id: str | None = None
    """The server's client id at the issuer; set: ``/auth/login`` signs browsers in with the
    authorization code flow (PKCE), and ID tokens must carry it as their audience."""
    oidc_client_secret_file: Path | None = None
    """A file holding the client secret (else the ``LINEAL_OIDC_CLIENT_SECRET`` environment
    variable; neither: a public client, PKCE alone). Never a command-line value: ``ps`` shows
    those to every user of the machine."""
    oidc_redirect_url: str | None = None
    """The callback URL registered at the issuer (``https://lineal.example.com/auth/callback``);
    None: derived from each request (right when the server is reached at its public address)."""
    oidc_scopes: tuple[str, ...] = ("openid", "profile", "email")
    """Scopes asked for at sign-in; ``openid`` is always among them. Add the one that puts
    the role claim in the ID token, if the issuer needs one (``groups``, ``roles``)."""
    session_secret_file: Path | None = None
    """A file holding the secret that signs and encrypts the login and session cookies (else
    ``LINEAL_SESSION_SECRET``); at least 32 characters, the same for every server process.
    Required with ``oidc_client_id``."""
    session_max_s: float = 8 * 3600.0
    """The longest a browser session lasts; never longer than the ID token it came from."""
    # -- trusted proxy --------------------------------------------------------------------------
    proxy_header: str | None = None
    """The header an authenticating proxy sets to the user's name (``X-Forwarded-User``)."""
    proxy_groups_header: str | None = None
    """A header with the user's groups (comma- or space-separated), mapped by ``role_map``."""
    trusted_proxies: Sequence[str] = ()
    """Addresses or CIDRs (``10.0.0.0/8``, ``127.0.0.1``) whose proxy header is believed; the
    header from any other address is refused."""
    # -- roles ----------------------------------------------------------------------------------
    role_map: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Claim value or proxy group -> grants (``"admin"``, ``"writer:churn"``). Empty: the
    values themselves are read as grants, and those that are not grants are ignored (an
    identity provider's group list holds many other groups)."""
    default_roles: Sequence[str] = ()
    """Grants every OIDC and proxy principal gets (``("reader",)``: everyone signed in reads)."""

    def __post_init__(self) -> None:
        for name in ("oidc_jwks_file", "oidc_client_secret_file", "session_secret_file"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Path):
                object.__setattr__(self, name, Path(value))
        scopes = tuple(self.oidc_scopes)
        object.__setattr__(self, "oidc_scopes",
                           scopes if "openid" in scopes else ("openid", *scopes))
        if self.oidc_issuer is not None:
            if (self.oidc_jwks_url is None) == (self.oidc_jwks_file is None):
                raise InvalidArgument("OIDC needs exactly one of a JWKS URL and a JWKS file",
                                      hint="set oidc_jwks_url or oidc_jwks_file")
            if self.oidc_jwks_url is not None and not self.oidc_jwks_url.startswith(
                    ("https://", "http://")):
                raise InvalidArgument(f"the JWKS URL {self.oidc_jwks_url!r} is not http(s)")
            bad = [a for a in self.oidc_algorithms if a not in DEFAULT_ALGORITHMS]
            if bad or not self.oidc_algorithms:
                raise InvalidArgument(f"JWT algorithms {bad or '(none)'} are not allowed",
                                      hint=f"choose among {', '.join(DEFAULT_ALGORITHMS)}")
        elif self.oidc_jwks_url is not None or self.oidc_jwks_file is not None:
            raise InvalidArgument("a JWKS is set but no OIDC issuer",
                                  hint="set oidc_issuer too")
        if self.oidc_client_id is not None:
            self._check_login()
        if self.proxy_header is not None and not self.trusted_proxies:
            raise InvalidArgument(f"the {self.proxy_header} header needs trusted proxies",
                                  hint="list the proxy's addresses or CIDRs in trusted_proxies")
        object.__setattr__(self, "trusted_proxies", tuple(self.trusted_proxies))
        object.__setattr__(self, "default_roles", tuple(self.default_roles))
        object.__setattr__(self, "role_map", {str(k): tuple(v) for k, v in self.role_map.items()})
        self.networks()
        self.mapped_grants()
        self.default_grants()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> AuthSettings:
        """Settings from a configuration table (a ``[server.auth]`` section of
        ``lineal.toml``, say): the keys are the field names; an unknown key or a value of the
        wrong type is InvalidArgument naming it.

        >>> AuthSettings.from_mapping({"enabled": True, "proxy_header": "X-Forwarded-User",
        ...                            "trusted_proxies": ["10.0.0.0/8"]}).trusted_proxies
        ('10.0.0.0/8',)
        """
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise InvalidArgument(f"unknown auth setting(s): {', '.join(unknown)}",
                                  hint=f"known: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            values[name] = _typed(name, value)
        return cls(**values)

    @property
    def login(self) -> bool:
        """Whether browsers sign in through the server (``/auth/login``)."""
        return self.enabled and self.oidc_client_id is not None

    def _check_login(self) -> None:
        if self.oidc_issuer is None:
            raise InvalidArgument("an OIDC client id is set but no OIDC issuer",
                                  hint="set oidc_issuer (and oidc_jwks_url) too")
        if self.oidc_redirect_url is not None and not self.oidc_redirect_url.startswith(
                ("https://", "http://")):
            raise InvalidArgument(f"the OIDC redirect URL {self.oidc_redirect_url!r} is not "
                                  "http(s)", hint="e.g. https://lineal.example.com/auth/callback")
        self.session_secret()
        self.client_secret()

    def session_secret(self) -> bytes:
        """The secret of the login and session cookies, from ``session_secret_file`` or
        ``LINEAL_SESSION_SECRET``; InvalidArgument when neither holds 32 characters or more."""
        value = _secret(self.session_secret_file, SESSION_SECRET_ENV, "session secret")
        if value is None or len(value) < 32:
            raise InvalidArgument(
                "signing in through the server (oidc_client_id) needs a session secret of at "
                f"least 32 characters, in session_secret_file or {SESSION_SECRET_ENV}",
                hint="e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))' "
                "> session.key`, the same file for every server process")
        return value.encode()

    def client_secret(self) -> str | None:
        """The OIDC client secret, from ``oidc_client_secret_file`` or
        ``LINEAL_OIDC_CLIENT_SECRET``; None: a public client."""
        return _secret(self.oidc_client_secret_file, CLIENT_SECRET_ENV, "OIDC client secret")

    def networks(self) -> list[Network]:
        """``trusted_proxies`` parsed; InvalidArgument names a bad one."""
        out = []
        for text in self.trusted_proxies:
            try:
                out.append(ipaddress.ip_network(str(text).strip(), strict=False))
            except ValueError:
                raise InvalidArgument(f"trusted proxy {text!r} is not an address or CIDR",
                                      hint="e.g. 10.0.0.0/8, 127.0.0.1, ::1") from None
        return out

    def mapped_grants(self) -> dict[str, list[tuple[str, Role]]]:
        """``role_map`` parsed: claim value or group -> ``(project, role)`` grants."""
        return {value: [parse_grant(g) for g in grants] for value, grants in self.role_map.items()}

    def default_grants(self) -> list[tuple[str, Role]]:
        return [parse_grant(g) for g in self.default_roles]


SESSION_SECRET_ENV = "LINEAL_SESSION_SECRET"
CLIENT_SECRET_ENV = "LINEAL_OIDC_CLIENT_SECRET"


def _secret(path: Path | None, variable: str, what: str) -> str | None:
    """A secret from ``path`` (stripped of surrounding whitespace) or the environment."""
    if path is not None:
        try:
            value = path.read_text().strip()
        except OSError as error:
            raise InvalidArgument(f"cannot read the {what} file {path}: "
                                  f"{error.strerror or error}") from None
        if not value:
            raise InvalidArgument(f"the {what} file {path} is empty")
        return value
    return os.environ.get(variable, "").strip() or None


_BOOL = {"enabled"}
_NUMBER = {"oidc_leeway_s", "jwks_cache_s", "jwks_refetch_min_s", "jwks_timeout_s",
           "session_max_s"}
_LISTS = {"trusted_proxies", "default_roles", "oidc_algorithms", "oidc_scopes"}
_PATHS = {"oidc_jwks_file", "oidc_client_secret_file", "session_secret_file"}


def _typed(name: str, value: Any) -> Any:
    """``value`` checked for the setting ``name``: what a TOML or JSON table can hold."""
    def wrong(expected: str) -> InvalidArgument:
        return InvalidArgument(f"auth setting {name} must be {expected}, not {value!r}")

    if name in _BOOL:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if name in _NUMBER:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise wrong("a number of seconds, 0 or more")
        return float(value)
    if name in _LISTS:
        if isinstance(value, str) or not isinstance(value, Sequence) or not all(
                isinstance(v, str) for v in value):
            raise wrong("a list of strings")
        return tuple(value)
    if name == "role_map":
        if not isinstance(value, Mapping) or not all(
                isinstance(v, Sequence) and not isinstance(v, str)
                and all(isinstance(g, str) for g in v) for v in value.values()):
            raise wrong('a table of lists of grants, e.g. {"ml-admins" = ["admin"]}')
        return {str(k): tuple(v) for k, v in value.items()}
    if value is not None and not isinstance(value, str):
        raise wrong("text")
    if name in _PATHS and value is not None:
        return Path(value)
    return value
