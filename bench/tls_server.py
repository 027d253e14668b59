#!/usr/bin/env python3
"""A stand-in CloudWatch Logs endpoint over HTTPS and over plain HTTP, for measuring what the
first request of a fresh connection costs the SDK client (`measure tls`).

Both listeners speak HTTP/1.1 with keep-alive (as AWS endpoints do; the emulator's werkzeug
closes every connection) and answer every POST with 200 `{}`, reading the request body by its
Content-Length, after `--delay-ms` (default 0). The HTTPS listener uses a self-signed P-256
certificate for `localhost` and 127.0.0.1, made at start with the `cryptography` package (a
dependency of moto, in the project's venv) and written to the directory given.

Prints one line, `HTTPS_PORT HTTP_PORT CERT_PEM_PATH`, once both listen, and exits when its stdin
reaches EOF (give it a pipe and keep it open).
usage: tls_server.py DIR [--delay-ms MS]"""
import datetime, http.server, ipaddress, os, socketserver, ssl, sys, threading, time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(directory):
    """A P-256 key and a certificate for localhost / 127.0.0.1, valid for two days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    os.makedirs(directory, exist_ok=True)
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cert_path, key_path


DELAY = 0.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The head and the body go out in two writes: with Nagle's algorithm on, the body would wait
    # for the client's delayed ACK (40 ms), which is no part of a handshake.
    disable_nagle_algorithm = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if DELAY:
            time.sleep(DELAY)
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    global DELAY
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        sys.exit(__doc__)
    if "--delay-ms" in args:
        DELAY = float(args[args.index("--delay-ms") + 1]) / 1000
    cert_path, key_path = self_signed(args[0])
    https = Server(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    https.socket = context.wrap_socket(https.socket, server_side=True)
    plain = Server(("127.0.0.1", 0), Handler)
    for server in (https, plain):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print(https.server_address[1], plain.server_address[1], cert_path, flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
