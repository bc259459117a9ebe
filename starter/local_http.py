"""The standard library's threaded HTTP server, for the engine's small local servers (the
media host, the codec endpoint).

A client that hangs up mid-answer is routine for them: the engine stops a media download
that outgrows its size cap, TikTok (or the simulator) drops a pull, a browser navigates
away. `socketserver` prints each such disconnect as a traceback on stderr, in the middle
of `make run`'s output. Here a disconnect is logged at debug level instead; any other
error in a request handler still prints in full, because it is a bug.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any

import structlog

log = structlog.get_logger("starter.local_http")

CLIENT_HUNG_UP = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
"""What writing to (or reading from) a socket raises once its peer has closed it."""


class LocalHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, CLIENT_HUNG_UP):
            log.debug("http.client_hung_up", client=str(client_address), error=type(error).__name__)
            return
        super().handle_error(request, client_address)
