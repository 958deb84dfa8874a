"""Run the fake provider for a demo: `python -m vidhook.receiver.fake_provider --port 9100`."""

from __future__ import annotations

import argparse

import uvicorn

from vidhook.receiver.fake_provider.app import FAKE_APIS, FakeProvider


def main() -> None:
    """Serve every fake provider on one port until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m vidhook.receiver.fake_provider",
        description="Fake video-generation providers for trying vidhook out.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--delay", type=float, default=5.0, help="seconds until a task ends")
    parser.add_argument("--outcome", choices=["completed", "failed"], default="completed")
    parser.add_argument("--api-key", help="the only key accepted (default: any)")
    parser.add_argument(
        "--drop-callbacks",
        action="store_true",
        help="never call back, as if every callback were lost (try vidhook's safety net)",
    )
    args = parser.parse_args()
    fake = FakeProvider(
        delay=args.delay,
        outcome=args.outcome,
        api_key=args.api_key,
        drop_callbacks=args.drop_callbacks,
    )
    print("fake providers; set each source's base_url to:")
    for name in FAKE_APIS:
        print(f"  {name:12} http://{args.host}:{args.port}/{name}")
    uvicorn.run(fake, host=args.host, port=args.port, lifespan="off", log_level="warning")


if __name__ == "__main__":
    main()
