package io.jpipe;

/** CPython's process tests again, with children started from warm spares (CPython's forkserver). */
class WarmCPythonProcessPortTest extends CPythonProcessPortTest implements WarmStarts {}
