"""What supervisord runs for each service (``python -m readmission_local.launch SPEC``): clear
what the service's previous run left behind, then become the service (as its user). Imports
nothing heavy."""

import json
import os
import pwd
import sys
from pathlib import Path

from readmission_local.process import sweep_session


def main(spec_path: str) -> None:
    spec, last = json.loads(Path(spec_path).read_text()), Path(spec_path).with_suffix(".pid")
    if last.exists():  # the group of this service's previous run: e.g. a killed MLflow's server
        sweep_session(os.getsid(0), int(last.read_text()))
    last.write_text(str(os.getpid()))  # supervisord made this process its group's leader
    if spec["user"]:
        user = pwd.getpwnam(spec["user"])
        os.setgid(user.pw_gid)
        os.setgroups([])
        os.setuid(user.pw_uid)
    os.nice(spec["nice"])
    os.execvpe(spec["argv"][0], spec["argv"], spec["env"])


if __name__ == "__main__":
    main(sys.argv[1])
