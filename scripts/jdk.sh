# Sourced by jpipe's scripts: puts a JDK 25 (or newer) in JAVA_HOME and on PATH, or stops with a message.
# Order: JAVA_HOME if it is 25+, then the newest JDK 25+ under /usr/lib/jvm.

jpipe_java_major() { # $1 = a JDK home; prints its feature version, or nothing
  local home=$1 v=""
  [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 0
  if [ -r "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release")
  fi
  if [ -z "$v" ]; then
    v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java.specification.version = \([0-9]*\).*/\1/p')
  fi
  printf '%s' "$v"
}

jpipe_find_jdk() {
  local candidate major best="" best_major=0
  if [ -n "${JAVA_HOME:-}" ]; then
    major=$(jpipe_java_major "$JAVA_HOME")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      best=$JAVA_HOME
      best_major=$major
    fi
  fi
  if [ -z "$best" ]; then
    for candidate in /usr/lib/jvm/*; do
      [ -d "$candidate" ] || continue
      major=$(jpipe_java_major "$candidate")
      [ -n "$major" ] || continue
      if [ "$major" -ge 25 ] && [ "$major" -gt "$best_major" ]; then
        best=$candidate
        best_major=$major
      fi
    done
  fi
  if [ -z "$best" ]; then
    echo "jpipe: no JDK 25 found. JAVA_HOME is '${JAVA_HOME:-unset}' and /usr/lib/jvm has no JDK 25 or newer." >&2
    echo "jpipe: install one (for example Temurin 25) and set JAVA_HOME to it." >&2
    return 1
  fi
  export JAVA_HOME=$best
  export PATH="$JAVA_HOME/bin:$PATH"
}

jpipe_find_mvn() {
  if command -v mvn >/dev/null 2>&1; then
    MVN=$(command -v mvn)
  else
    echo "jpipe: Maven (mvn) is not on PATH; install Maven 3.8 or newer." >&2
    return 1
  fi
  export MVN
}
