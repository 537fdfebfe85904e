"""A small real reference sector library: a WSGI service answering `POST /query` from a fixed
set of licences and `GET /health` (`health_status`, 200 unless a test says otherwise), served
on loopback by the tests (what a department's own library would do)."""

import json
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002
        return


class SectorReference:
    def __init__(self, licenses):
        self.licenses = licenses
        self.requests = []
        self.health_status = "200 OK"
        self.server = make_server("127.0.0.1", 0, self.app, handler_class=QuietHandler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def app(self, environ, start_response):
        if environ["PATH_INFO"] == "/health" and environ["REQUEST_METHOD"] == "GET":
            self.requests.append({"health": True})
            start_response(self.health_status, [("Content-Type", "application/json")])
            return [b'{"status": "ok"}']
        if environ["PATH_INFO"] != "/query" or environ["REQUEST_METHOD"] != "POST":
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "not found"}']
        body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
        self.requests.append(body)
        if not body.get("use_cause") or not body.get("matter_code"):
            start_response("400 Bad Request", [("Content-Type", "application/json")])
            return [b'{"error": "purpose required"}']
        holder = body["holder"]
        found = [
            lic
            for lic in self.licenses
            if (lic["holder"]["code"], lic["holder"]["code_type"])
            == (holder["code"], holder["code_type"])
            and lic["type_code"] in body["type_codes"]
        ]
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"licenses": found}, ensure_ascii=False).encode()]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
