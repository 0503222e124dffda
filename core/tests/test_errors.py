"""Errors carry what the operator needs: the failing command's stderr, cause and summary."""


def test_command_failed_keeps_the_first_and_the_last_lines_of_stderr():
    from creature.errors import CommandFailed

    short = CommandFailed(["tool"], 1, "one\n\ntwo\n")
    assert str(short) == "tool failed (exit 1): one | two"
    long = CommandFailed(["tool"], 2, "cause: bad value in /etc/x.conf\n" + "".join(f"advice {i}\n" for i in range(6)))
    assert str(long) == "tool failed (exit 2): cause: bad value in /etc/x.conf | ... | advice 3 | advice 4 | advice 5"
