"""HTTP clients of ``change_mgmt`` (Jira, Prometheus): one TLS context per process.

Loading the CA bundle costs about 30 ms per ``httpx.Client``; every client the library
makes shares one context instead (it honours ``SSL_CERT_FILE``/``SSL_CERT_DIR`` as they
are when it is first made).
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The process's TLS context, made on first use."""
    return httpx.create_ssl_context()


def new_client() -> httpx.Client:
    """A client of our own (the caller closes it), verifying with the shared context."""
    return httpx.Client(verify=tls_context())
