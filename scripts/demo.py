"""`make demo`: what a new user sees first (grows with the pipeline and deploy stages)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

BUILDSPEC = textwrap.dedent("""
    version: 0.2
    env:
      exported-variables: [VERSION]
    phases:
      install:
        commands:
          - echo "installing into the build image"
      build:
        commands:
          - VERSION=$(date +%Y%m%d)-demo
          - mkdir -p dist && echo "hello from build $CODEBUILD_BUILD_NUMBER" > dist/index.txt
      post_build:
        commands:
          - echo "built $VERSION"
    artifacts:
      files: ['**/*']
      base-directory: dist
""")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="runner-demo-") as tmp:
        project = Path(tmp)
        (project / "buildspec.yml").write_text(BUILDSPEC)
        runner = str(Path(sys.executable).parent / "runner")
        return subprocess.run([runner, "build", "-a", str(project / "out")], cwd=project).returncode


if __name__ == "__main__":
    sys.exit(main())
