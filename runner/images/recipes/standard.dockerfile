# runner/standard:bookworm: a CodeBuild-like standard build image from Debian packages only
# (no registry). Its runtimes.yml lists exactly the runtimes installed here; the runner reads
# it from the image when a buildspec asks for runtime-versions (CodeBuild's format).
FROM {parent}
# The JDK's post-install script needs /usr/share/man/man1 (the base image trimmed it).
# Go 1.19 (bookworm) is older than any CodeBuild image: Go comes from bookworm-backports.
# Each group prints a line (`==> …`) so a long bootstrap shows where it is; dpkg skips its
# fsyncs (force-unsafe-io: a failed build is thrown away anyway). pip installs
# into the system Python as on CodeBuild (no PEP 668 refusal: this is a build image).
RUN mkdir -p /usr/share/man/man1 \
 && echo "deb {mirror} {suite}-backports main" > /etc/apt/sources.list.d/backports.list \
 && apt-get update -qq \
 && add() { echo "==> installing $1"; shift; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o Dpkg::Options::=--force-unsafe-io "$@" >/dev/null; } \
 && add "tools (git, make, gcc, curl, wget, jq, zip)" bash ca-certificates curl wget git make gcc g++ \
      libc6-dev jq zip unzip xz-utils procps less openssh-client sudo \
 && add "Python 3.11 with pip and venv" python3 python3-pip python3-venv python-is-python3 \
 && add "Node.js 18 with npm" nodejs npm \
 && add "OpenJDK 17 with Maven" openjdk-17-jdk-headless maven \
 && add "Go 1.23 (bookworm-backports)" golang-1.23-go \
 && add "AWS CLI v2" awscli \
 && add "Ruby 3.1 and PHP 8.2" ruby php-cli \
 && echo "==> installing the Docker CLI (from docker.io, without its engine)" \
 && cd /tmp && apt-get download -qq docker.io \
 && dpkg-deb --fsys-tarfile docker.io_*.deb | tar -xO ./usr/bin/docker > /usr/local/bin/docker \
 && chmod 0755 /usr/local/bin/docker && rm -f docker.io_*.deb \
 && ln -s "java-17-openjdk-$(dpkg --print-architecture)" /usr/lib/jvm/openjdk-17 \
 && rm -f /usr/lib/python3.*/EXTERNALLY-MANAGED \
 && useradd --create-home --shell /bin/bash codebuild-user \
 && {trim}
COPY runtimes.yml /codebuild/image/config/runtimes.yml
ENV PATH=/usr/lib/go-1.23/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    JAVA_HOME=/usr/lib/jvm/openjdk-17
CMD ["/bin/bash"]
