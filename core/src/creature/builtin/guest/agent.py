"""creature's guest agent: the QEMU guest agent commands creature uses, as a busybox shell script, for guests without qemu-ga.

Busybox guests and Debian templates built without qemu-guest-agent have nothing that answers on the
agent channel, so creature's initramfs starts this script there (creature.builtin.guest.initramfs) before it
hands over to the guest's init. It speaks the same protocol as qemu-ga (one JSON request a line, one JSON
reply a line; https://www.qemu.org/docs/master/interop/qemu-ga-ref.html), so one client on the host talks to
either, and libvirt's own agent API (qemuAgentCommand) works with it: guest-sync, guest-sync-delimited,
guest-ping, guest-info, guest-exec (path, arg, env, input-data) and guest-exec-status (exitcode,
out-data, err-data). Only busybox applets are used: awk parses the requests, base64 carries the data.

    creature-agent DEVICE ROOT STATE [HANDOVER]

DEVICE is the channel (a virtio-serial port, a UML serial line), ROOT the folder commands run in (chroot:
the initramfs gives /proc/1/root of its own proc mount, which is the guest's root once init runs), STATE a
private folder for each command's input, output and exit status. With HANDOVER (/proc/1/exe there), the
agent answers only once that file is on another device than its own root: PID 1 then runs the guest's init.
"""

from __future__ import annotations

AGENT_VERSION = "creature-agent 1"

# one request (a JSON object on a line) -> a file of shell assignments; the file's name on stdout
PARSER = r"""
function q(s) { gsub(/'/, "'\\''", s); return "'" s "'" }
function hexval(h,   i, v) {
  v = 0; h = tolower(h)
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
  return v
}
function utf8(c) {
  if (c < 128) return sprintf("%c", c)
  if (c < 2048) return sprintf("%c%c", 192 + int(c / 64), 128 + c % 64)
  if (c < 65536) return sprintf("%c%c%c", 224 + int(c / 4096), 128 + int(c / 64) % 64, 128 + c % 64)
  return sprintf("%c%c%c%c", 240 + int(c / 262144), 128 + int(c / 4096) % 64, 128 + int(c / 64) % 64, 128 + c % 64)
}
function unescape(s,   out, i, c, u) {
  out = ""
  while ((i = index(s, "\\")) > 0) {
    out = out substr(s, 1, i - 1); c = substr(s, i + 1, 1); s = substr(s, i + 2)
    if (c == "n") out = out "\n"; else if (c == "t") out = out "\t"; else if (c == "r") out = out "\r"
    else if (c == "b") out = out "\b"; else if (c == "f") out = out "\f"
    else if (c == "u") {
      u = hexval(substr(s, 1, 4)); s = substr(s, 5)
      if (u >= 55296 && u < 56320 && substr(s, 1, 2) == "\\u") { u = 65536 + (u - 55296) * 1024 + hexval(substr(s, 3, 4)) - 56320; s = substr(s, 7) }
      if (u > 0) out = out utf8(u)
    } else out = out c
  }
  return out s
}
# the index of the quote that ends the string s begins (s starts after its opening quote); 0: none
function closing(s,   at, i, k, slashes) {
  at = 0
  while ((i = index(substr(s, at + 1), "\"")) > 0) {
    at += i; slashes = 0
    for (k = at - 1; k > 0 && substr(s, k, 1) == "\\"; k--) slashes++
    if (slashes % 2 == 0) return at
  }
  return 0
}
function where(   p) {
  if (depth == 0) return ""
  if (kind[depth] == "a") return path[depth]
  return path[depth] == "" ? key[depth] : path[depth] "." key[depth]
}
function value(p, v) {
  if (p == "execute") { if (v ~ /^[a-z0-9-]+$/) out["cmd"] = v; else out["cmd"] = "invalid" }
  else if (p == "arguments.id") { if (v ~ /^-?[0-9]+$/) out["id"] = v }
  else if (p == "arguments.pid") { if (v ~ /^[0-9]+$/) out["pid"] = v }
  else if (p == "arguments.path") path0 = q(v)
  else if (p == "arguments.arg") args = args " " q(v)
  else if (p == "arguments.env") { if (v ~ /^[A-Za-z_][A-Za-z0-9_]*=/) envs = envs " " q(v) }
  else if (p == "arguments.input-data") { input = 1; printf "%s", v > (file ".in"); close(file ".in") }
}
{
  n++; file = state "/request." n
  delete out; delete kind; delete path; delete key; delete wantkey
  depth = 0; path0 = ""; args = ""; envs = ""; input = 0; bad = 0
  s = $0; sub(/^[^{]*/, "", s)
  while (s != "" && !bad) {
    c = substr(s, 1, 1)
    if (c == " " || c == "\t" || c == "\r" || c == ":") { s = substr(s, 2); continue }
    if (c == "{" || c == "[") {
      p = where(); depth++; kind[depth] = (c == "{") ? "o" : "a"; path[depth] = p; wantkey[depth] = (c == "{")
      s = substr(s, 2); continue
    }
    if (c == "}" || c == "]") { depth--; s = substr(s, 2); if (depth == 0) break; continue }
    if (c == ",") { if (kind[depth] == "o") wantkey[depth] = 1; s = substr(s, 2); continue }
    if (c == "\"") {
      s = substr(s, 2); end = closing(s)
      if (!end) { bad = 1; break }
      v = unescape(substr(s, 1, end - 1)); s = substr(s, end + 1)
      if (kind[depth] == "o" && wantkey[depth]) { key[depth] = v; wantkey[depth] = 0 } else value(where(), v)
      continue
    }
    if (match(s, /^[-+0-9.eEa-z]+/)) { value(where(), substr(s, 1, RLENGTH)); s = substr(s, RLENGTH + 1); continue }
    bad = 1
  }
  if (bad || depth != 0) out["cmd"] = ""
  printf "cmd=%s id=%s pid=%s\n", q(out["cmd"]), q(out["id"]), q(out["pid"]) > file
  printf "argv=%s\nenvs=%s\ninput=%s\n", q(path0 == "" ? "" : path0 args), q(envs), q(input ? file ".in" : "") > file
  close(file)
  print file; fflush()
}
"""

SCRIPT = r"""#!/bin/sh
# creature-agent DEVICE ROOT STATE [HANDOVER]: the qemu-ga commands creature uses, on DEVICE, for commands run in ROOT
dev=$1 root=$2 state=$3 handover=$4
umask 077
mkdir -p "$state" || exit 1
cat > "$state/parse.awk" <<'CREATURE_AWK'
@PARSER@
CREATURE_AWK
reply() { printf '%s\n' "$1" >&3; }
guest_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
chroot=$(command -v chroot)
run() {  # folder, then env entries and the command: it runs in ROOT with the folder's in, out and err
  d=$1; shift
  set -- env -i -- PATH=$guest_path HOME=/root TERM=linux "$@"
  [ "$root" = / ] || set -- "$chroot" "$root" "$@"
  # the guest's PATH finds env (and the command) inside ROOT
  (cd / && PATH=$guest_path exec "$@") <"$d/in" >"$d/out" 2>"$d/err" 3>&-
  echo $? >"$d/rc.new" && mv "$d/rc.new" "$d/rc"
}
handle() {
  cmd= id= pid= argv= envs= input=
  . "$1"; rm -f "$1"
  case $cmd in
    guest-sync) [ -n "$id" ] && reply "{\"return\": $id}" ;;
    guest-sync-delimited) [ -n "$id" ] && { printf '\377' >&3; reply "{\"return\": $id}"; } ;;
    guest-ping) reply '{"return": {}}' ;;
    guest-info) reply '{"return": {"version": "@VERSION@", "supported_commands": [{"name": "guest-sync", "enabled": true}, {"name": "guest-sync-delimited", "enabled": true}, {"name": "guest-ping", "enabled": true}, {"name": "guest-info", "enabled": true}, {"name": "guest-exec", "enabled": true}, {"name": "guest-exec-status", "enabled": true}]}}' ;;
    guest-exec)
      if [ -z "$argv" ]; then reply '{"error": {"class": "GenericError", "desc": "guest-exec needs a path"}}'; return; fi
      handle_no=$((handle_no + 1)); while [ -e "$state/$handle_no" ]; do handle_no=$((handle_no + 1)); done
      d=$state/$handle_no; mkdir "$d"
      if [ -n "$input" ]; then base64 -d <"$input" >"$d/in" 2>/dev/null; rm -f "$input"; else : >"$d/in"; fi
      eval "set -- $envs $argv"
      run "$d" "$@" </dev/null >/dev/null 2>&1 &
      reply "{\"return\": {\"pid\": $handle_no}}" ;;
    guest-exec-status)
      d=$state/$pid
      if [ -z "$pid" ] || [ ! -d "$d" ]; then
        reply "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Invalid parameter 'pid'\"}}"
      elif [ ! -f "$d/rc" ]; then
        reply '{"return": {"exited": false}}'
      else
        { printf '{"return": {"exited": true, "exitcode": %d, "out-data": "' "$(cat "$d/rc")"
          base64 -w 0 <"$d/out"; printf '", "err-data": "'; base64 -w 0 <"$d/err"; printf '"}}\n'; } >&3
        rm -rf "$d"
      fi ;;
    "") reply '{"error": {"class": "GenericError", "desc": "creature-agent: not a JSON request"}}' ;;
    *) reply "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"creature-agent does not know $cmd\"}}" ;;
  esac
  jobs >/dev/null  # reap commands that ended
}
handle_no=0
if [ -n "$handover" ]; then
  # started by the initramfs: until PID 1 runs the guest's init, whose executable is on another device than the
  # initramfs (our own root), ROOT is not the guest's yet; answer only after that
  initramfs=$(stat -c %d /)
  while [ "$(stat -L -c %d "$handover" 2>/dev/null)" = "$initramfs" ]; do sleep 0.05; done
fi
while :; do
  if exec 3<>"$dev"; then
    stty raw -echo <&3 2>/dev/null
    awk -v state="$state" -f "$state/parse.awk" <&3 | while IFS= read -r request; do handle "$request"; done
    exec 3>&-
  fi
  sleep 1  # the device is gone or its host end hung up: wait for the next
done
""".replace("@PARSER@", PARSER.strip("\n")).replace("@VERSION@", AGENT_VERSION)
