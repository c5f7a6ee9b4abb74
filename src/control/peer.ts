import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';

/** Who is at the other end of a unix socket connection, as the kernel says (SO_PEERCRED). */
export interface Peer {
  uid: number;
  user: string;
  pid: number;
}

/*
 * Node has no API for SO_PEERCRED, and the npm packages that wrap it (peercred, 2016, nan;
 * unix-socket-credentials, on the long-dead ffi) are unmaintained. perl is part of every Debian
 * system (perl-base is Essential) and its Socket module calls getsockopt(SO_PEERCRED) directly:
 * the connection's descriptor is handed to it as its fd 3 (a duplicate; it reads nothing) and it
 * prints pid, uid and gid. It runs once per connection on the console's socket only (~20 ms).
 */
const SCRIPT = [
  'use Socket;',
  'open(my $s, "+<&=3") or die "fd 3: $!\\n";',
  'my $c = getsockopt($s, SOL_SOCKET, SO_PEERCRED) or die "getsockopt: $!\\n";',
  'my ($pid, $uid, $gid) = unpack("lll", $c);',
  'print "$pid $uid $gid\\n";',
].join(' ');

export function peerCredentials(socket: Socket, timeoutMs = 5000): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const child = spawn('perl', ['-e', SCRIPT], { stdio: ['ignore', 'pipe', 'pipe', socket] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot read the peer's credentials: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const m = /^(\d+) (\d+) (\d+)$/.exec(out.trim());
      if (code !== 0 || !m) {
        reject(new Error(`cannot read the peer's credentials: ${err.trim() || `perl exited ${code}`}`));
        return;
      }
      const uid = Number(m[2]);
      resolve({ pid: Number(m[1]), uid, user: userName(uid) });
    });
  });
}

/** The user's name from /etc/passwd, or `uid N` when it has none. */
export function userName(uid: number): string {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name && id !== undefined && Number(id) === uid) return name;
    }
  } catch {
    // No passwd file (a container): the number is all there is.
  }
  return `uid ${uid}`;
}

/** A group's number from /etc/group, or the number itself. */
export function groupId(group: string | number): number | null {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number(group);
  try {
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const [name, , id] = line.split(':');
      if (name === group && id !== undefined) return Number(id);
    }
  } catch {
    // fall through
  }
  return null;
}
