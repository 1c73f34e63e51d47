"""What the real LinkBox backend chain does with each case of database-url-cases.ts.

Run by hand when the table changes (it needs bash, pydantic 2 and SQLAlchemy 2.0 importable):

    PYTHONPATH=/path/to/sqlalchemy/lib npx tsx tests/support/database-url-oracle.ts

The TypeScript wrapper feeds the cases' SSM values as JSON on stdin and compares; this file prints,
per case, what the real components produced: bash's word splitting of start_application.sh's
`-e DATABASE_URL=$DATABASE_URL`, pydantic's AnyUrl serialization, and SQLAlchemy's psycopg2
create_connect_args, and (when psycopg2 can be imported) psycopg2.connect with those arguments
pointed at a closed port, which shows the checks it makes before connecting (libpq keywords, NUL).
Debian's python3-psycopg2 works from another Python 3.11 with PYTHONPATH=...:/usr/lib/python3/dist-packages.
"""

import json
import subprocess
import sys

import pydantic
import sqlalchemy
from pydantic import AnyUrl, TypeAdapter
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2
from sqlalchemy.engine.url import make_url

try:
    import psycopg2
except ImportError:
    psycopg2 = None

SCRIPT = r'''
DATABASE_URL="postgresql://${DB_USERNAME}:${DB_PASSWORD}@${DB_ENDPOINT}:5432/${DB_NAME}"
set -- -e DATABASE_URL=$DATABASE_URL "$IMAGE_URI"
printf '%s\0' "$@"
'''


def run(ssm):
    env = {"DB_USERNAME": ssm["username"], "DB_PASSWORD": ssm["password"], "DB_ENDPOINT": ssm["endpoint"], "DB_NAME": ssm["name"], "IMAGE_URI": "img", "PATH": "/usr/bin:/bin"}
    words = subprocess.run(["bash", "-c", SCRIPT], env=env, cwd="/", capture_output=True, check=True).stdout.split(b"\0")[:-1]
    if len(words) != 3:
        return {"stage": "docker-run", "words": len(words)}
    database_url = words[1].decode()[len("DATABASE_URL="):]
    try:
        settings_url = str(TypeAdapter(AnyUrl).validate_python(database_url))
    except pydantic.ValidationError as e:
        return {"stage": "settings", "error": e.errors()[0]["msg"]}
    try:
        url = make_url(settings_url)
        _, opts = PGDialect_psycopg2().create_connect_args(url)
    except Exception as e:  # noqa: BLE001 - the failure itself is the answer
        return {"stage": "create-engine", "settingsUrl": settings_url, "error": f"{type(e).__name__}: {e}"}
    if psycopg2 is not None:
        try:
            psycopg2.connect(**{**opts, "host": "127.0.0.1", "port": 1, "connect_timeout": 1}).close()
        except (ValueError, psycopg2.ProgrammingError) as e:
            return {"stage": "connect", "settingsUrl": settings_url, "error": f"{type(e).__name__}: {e}"}
        except psycopg2.OperationalError:
            pass  # it got as far as connecting: the arguments passed its checks
    return {"settingsUrl": settings_url, "opts": {k: str(v) for k, v in opts.items()}}


versions = {"pydantic": pydantic.VERSION, "sqlalchemy": sqlalchemy.__version__, "psycopg2": psycopg2.__version__ if psycopg2 else None}
print(json.dumps({"versions": versions, "results": [run(c) for c in json.load(sys.stdin)]}))
