"""Before the suite: say clearly which service is missing instead of failing 300 tests."""

import socket
import sys

SERVICES = {
    "PostgreSQL": ("127.0.0.1", 5432),
    "Redis": ("127.0.0.1", 6379),
    "RabbitMQ": ("127.0.0.1", 5672),
}


def main() -> int:
    missing = []
    for name, (host, port) in SERVICES.items():
        try:
            socket.create_connection((host, port), timeout=2).close()
        except OSError:
            missing.append(f"{name} ({host}:{port})")
    if missing:
        sys.stderr.write("测试需要以下服务正在运行 / tests need: " + ", ".join(missing) + "\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
