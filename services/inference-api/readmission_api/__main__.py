"""`python -m readmission_api`: the server (the image's command); `... keys`: manage API keys."""

import argparse
import logging
import sys

import sqlalchemy

from readmission_api import api_keys
from readmission_api.settings import Settings


def serve() -> None:
    import uvicorn  # here: the keys CLI needs neither the server nor the app

    from readmission_api.main import create_app

    settings = Settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        create_app(settings),
        host=settings.HOST,
        port=settings.PORT,
        log_level="info",
        access_log=settings.ACCESS_LOG,
        timeout_graceful_shutdown=20,
    )


def keys(argv: list[str]) -> int:
    """create NAME --scopes a,b | list | revoke NAME, against DATA_DB_URL's serving.api_keys."""
    parser = argparse.ArgumentParser(
        prog="python -m readmission_api keys", description=keys.__doc__
    )
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="print a new key (shown once; stored as a hash)")
    create.add_argument("name")
    create.add_argument(
        "--scopes", required=True, help=f"comma-separated: {','.join(api_keys.SCOPES)}"
    )
    sub.add_parser("list", help="names, scopes, created, last used, revoked")
    sub.add_parser("revoke", help="refused by every replica within a second").add_argument("name")
    args = parser.parse_args(argv)
    url = Settings().DATA_DB_URL or parser.error("DATA_DB_URL is not set")
    store = api_keys.KeyStore(url)
    try:
        if args.command == "create":
            print(store.create(args.name, args.scopes.split(",")))
        elif args.command == "revoke":
            store.revoke(args.name)
            print(f"revoked {args.name}", file=sys.stderr)
        else:
            for r in store.list():
                when = lambda t: t.isoformat(timespec="seconds") if t else "-"  # noqa: E731
                print(
                    f"{r.name}\t{','.join(r.scopes)}\t{r.prefix}…\tcreated {when(r.created_at)}"
                    f"\tlast used {when(r.last_used_at)}\trevoked {when(r.revoked_at)}"
                )
    except api_keys.KeyRequestError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sqlalchemy.exc.SQLAlchemyError as exc:
        print(
            f"error: the key store (DATA_DB_URL) is unreachable: {exc.orig or exc}", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":  # not when a child process of the model loader imports it
    if sys.argv[1:2] == ["keys"]:
        sys.exit(keys(sys.argv[2:]))
    serve()
