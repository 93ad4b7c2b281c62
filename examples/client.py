#!/usr/bin/env python3
"""A warmjail client using only the Python standard library.

As a library:

    from client import WarmjailClient, WarmjailError
    c = WarmjailClient("http://localhost:8080", token=None)
    c.execute("def main(x):\n    return x * 2", input=21)      # -> 42
    c.execute(src, limits={"timeout_s": 2, "memory_mb": 256})
    c.health()                                                  # /health document

execute() returns main()'s result; what the script printed is on
client.last_response["stdout"] / ["stderr"]. Every failure raises
WarmjailError with .status, .error_type, .error, .stdout, .stderr,
.traceback and .retry_after (429).

From the command line:

    python3 examples/client.py script.py [--input JSON] [--url URL] [--token TOKEN]
                                         [--timeout-s N] [--memory-mb N]

prints the result as JSON on stdout and the script's output on stderr;
exit status 0 on success, 1 when the script failed, 2 on usage or transport
errors. --url defaults to $WARMJAIL_URL or http://localhost:8080 and --token
to $WARMJAIL_API_TOKEN.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.request

class WarmjailError(Exception):
    """A non-200 answer from warmjail (or a transport failure, status 0)."""

    def __init__(self, status, error_type, error, stdout="", stderr="", traceback=None,
                 retry_after=None, body=None):
        super().__init__("%s (%s, HTTP %s)" % (error, error_type, status))
        self.status = status
        self.error_type = error_type
        self.error = error
        self.stdout = stdout
        self.stderr = stderr
        self.traceback = traceback
        self.retry_after = retry_after
        self.body = body


class WarmjailClient:
    def __init__(self, url="http://localhost:8080", token=None, timeout=120.0):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.last_response = None

    def _call(self, method, path, body=None, auth=False):
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, allow_nan=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if auth and self.token:
            headers["Authorization"] = "Bearer " + self.token
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, resp.headers, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            raise WarmjailError(0, "transport", "cannot reach %s: %s" % (self.url, exc)) from exc

    @staticmethod
    def _parse(status, raw):
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise WarmjailError(status, "bad_response", "response is not JSON: %r" % raw[:200])

    def execute(self, script, input=None, limits=None):
        """Runs script; returns what main() returned. With input (any JSON
        value but null), main(input) is called, else main()."""
        body = {"script": script}
        if input is not None:
            body["input"] = input
        if limits:
            body["limits"] = dict(limits)
        status, headers, raw = self._call("POST", "/execute", body, auth=True)
        doc = self._parse(status, raw)
        self.last_response = doc
        if status == 200 and isinstance(doc, dict) and "result" in doc:
            return doc["result"]
        doc = doc if isinstance(doc, dict) else {}
        retry = headers.get("Retry-After") if headers else None
        raise WarmjailError(status, doc.get("error_type", "unknown"), doc.get("error", "HTTP %d" % status),
                            stdout=doc.get("stdout", ""), stderr=doc.get("stderr", ""),
                            traceback=doc.get("traceback"),
                            retry_after=int(retry) if retry and retry.isdigit() else None, body=doc)

    def health(self):
        """The /health document (also when the server answers 503 unhealthy)."""
        status, _, raw = self._call("GET", "/health")
        return self._parse(status, raw)

    def healthy(self):
        status, _, _ = self._call("GET", "/healthz")
        return status == 200


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run a Python script on a warmjail server.")
    ap.add_argument("script", help="file defining main() ('-' for stdin)")
    ap.add_argument("--input", help="JSON value passed as main(input)")
    ap.add_argument("--url", default=os.environ.get("WARMJAIL_URL", "http://localhost:8080"))
    ap.add_argument("--token", default=os.environ.get("WARMJAIL_API_TOKEN"))
    ap.add_argument("--timeout-s", type=float)
    ap.add_argument("--memory-mb", type=int)
    args = ap.parse_args(argv)
    try:
        src = sys.stdin.read() if args.script == "-" else open(args.script, encoding="utf-8").read()
    except OSError as exc:
        print("client.py: %s" % exc, file=sys.stderr)
        return 2
    kwargs = {}
    if args.input is not None:
        try:
            kwargs["input"] = json.loads(args.input)
        except ValueError as exc:
            print("client.py: --input is not JSON: %s" % exc, file=sys.stderr)
            return 2
    limits = {k: v for k, v in (("timeout_s", args.timeout_s), ("memory_mb", args.memory_mb)) if v is not None}
    client = WarmjailClient(args.url, args.token)
    try:
        result = client.execute(src, limits=limits or None, **kwargs)
    except WarmjailError as exc:
        sys.stderr.write(exc.stdout or "")
        sys.stderr.write(exc.stderr or "")
        if exc.traceback:
            sys.stderr.write(exc.traceback)
        print("error [%s] (HTTP %s): %s" % (exc.error_type, exc.status, exc.error), file=sys.stderr)
        return 2 if exc.status in (0, 400, 401, 413) else 1
    sys.stderr.write(client.last_response.get("stdout", ""))
    sys.stderr.write(client.last_response.get("stderr", ""))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
