import { isAbsolute, relative, resolve, sep } from 'node:path';

/*
 * Reads `strace -f -y -qq` output to cross-check the tracer: every syscall of the Node process that changed a path
 * in the CA directory must have a traced step of a matching kind on the same path.
 */

export const STRACE = '/usr/bin/strace';
/** What to trace: every path call, and the fd calls that change a file's content or mode. */
export const STRACE_ARGS = ['-f', '-y', '-qq', '-e', 'trace=%file,write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,fchmod,ftruncate,fchown'];

/** Syscall → the tracer step kinds that may stand for it. */
const KINDS: Record<string, readonly string[]> = {
  openat: ['open', 'writeFile', 'appendFile', 'copyFile', 'cp'],
  open: ['open', 'writeFile', 'appendFile', 'copyFile', 'cp'],
  creat: ['open', 'writeFile', 'appendFile', 'copyFile', 'cp'],
  write: ['write', 'writev', 'writeFile', 'appendFile', 'copyFile', 'cp'],
  pwrite64: ['write', 'writev', 'writeFile', 'appendFile', 'copyFile', 'cp'],
  writev: ['write', 'writev', 'writeFile', 'appendFile', 'copyFile', 'cp'],
  pwritev: ['write', 'writev', 'writeFile', 'appendFile', 'copyFile', 'cp'],
  pwritev2: ['write', 'writev', 'writeFile', 'appendFile', 'copyFile', 'cp'],
  fsync: ['sync', 'datasync', 'fsync', 'fdatasync'],
  fdatasync: ['sync', 'datasync', 'fsync', 'fdatasync'],
  fchmod: ['chmod', 'fchmod'],
  chmod: ['chmod', 'lchmod'],
  fchmodat: ['chmod', 'lchmod'],
  ftruncate: ['truncate', 'ftruncate', 'writeFile'],
  truncate: ['truncate'],
  fchown: ['chown', 'fchown'],
  chown: ['chown', 'lchown'],
  lchown: ['lchown'],
  fchownat: ['chown', 'lchown'],
  rename: ['rename'],
  renameat: ['rename'],
  renameat2: ['rename'],
  link: ['link'],
  linkat: ['link'],
  symlink: ['symlink'],
  symlinkat: ['symlink'],
  unlink: ['unlink', 'rm'],
  unlinkat: ['unlink', 'rm', 'rmdir'],
  rmdir: ['rmdir', 'rm'],
  mkdir: ['mkdir', 'mkdtemp'],
  mkdirat: ['mkdir', 'mkdtemp'],
  utimensat: ['utimes', 'lutimes', 'futimes', 'copyFile', 'cp'],
};
const FD_CALLS = new Set(['write', 'pwrite64', 'writev', 'pwritev', 'pwritev2', 'fsync', 'fdatasync', 'fchmod', 'ftruncate', 'fchown']);
const WRITE_FLAGS = /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC|O_APPEND/;

export interface Modification {
  readonly syscall: string;
  /** Paths it changed, absolute. */
  readonly paths: string[];
  readonly line: string;
}

/** Joins `<unfinished ...>` / `<... resumed>` halves, per thread. */
function wholeCalls(text: string): { pid: number; call: string }[] {
  const pending = new Map<number, string>();
  const calls: { pid: number; call: string }[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\d+)\s+(.*)$/.exec(line);
    if (!match) continue;
    const pid = Number(match[1]);
    const rest = match[2]!;
    if (rest.endsWith('<unfinished ...>')) pending.set(pid, rest.slice(0, -'<unfinished ...>'.length));
    else if (rest.startsWith('<... ')) {
      calls.push({ pid, call: (pending.get(pid) ?? '') + rest.replace(/^<\.\.\. \w+ resumed>/, '') });
      pending.delete(pid);
    } else calls.push({ pid, call: rest });
  }
  return calls;
}

/** The paths a call names: fd annotations `3</path>` for fd calls, else its string arguments (relative to their dirfd). */
function pathsOf(syscall: string, args: string): string[] {
  if (FD_CALLS.has(syscall)) {
    const fd = /^\d+<([^>]*)>/.exec(args);
    return fd ? [fd[1]!] : [];
  }
  const paths: string[] = [];
  const argument = /(?:\w+<([^>]*)>,\s*)?"((?:[^"\\]|\\.)*)"/g;
  for (let match = argument.exec(args); match; match = argument.exec(args)) {
    const name = match[2]!;
    paths.push(isAbsolute(name) || !match[1] ? name : resolve(match[1], name));
  }
  // symlink's first string is the link's target, not a path it changes
  return syscall.startsWith('symlink') ? paths.slice(-1) : paths;
}

/**
 * Successful syscalls of `mainPid`'s process (its threads included, children excluded: a child is one step of
 * its own) that changed something inside `dir`.
 */
export function modificationsIn(text: string, dir: string): Modification[] {
  const calls = wholeCalls(text);
  const mainPid = calls[0]?.pid;
  const children = new Set(calls.filter(({ pid, call }) => pid !== mainPid && /^execve\(.*\) = 0/.test(call)).map(({ pid }) => pid));
  const out: Modification[] = [];
  for (const { pid, call } of calls) {
    const match = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(call);
    if (!match || children.has(pid) || !KINDS[match[1]!] || Number(match[3]) < 0) continue;
    const [, syscall, args] = match as unknown as [string, string, string];
    if (/^(open|openat|creat)$/.test(syscall) && syscall !== 'creat' && !WRITE_FLAGS.test(args)) continue;
    const paths = pathsOf(syscall, args).filter((path) => path === dir || path.startsWith(dir + sep));
    if (paths.length > 0) out.push({ syscall, paths, line: call });
  }
  return out;
}

/** Modifications that no traced step (`kind<TAB>where`, paths as `<basename of dir>/<relative>`) accounts for. */
export function unaccounted(modifications: readonly Modification[], steps: readonly string[], dir: string, label: string): Modification[] {
  const traced = steps.map((line) => {
    const [kind, where = ''] = line.split('\t');
    return { kind: kind!, paths: where.split(' -> ') };
  });
  const name = (path: string): string => [label, relative(dir, path)].filter(Boolean).join('/');
  return modifications.filter(({ syscall, paths }) =>
    !paths.every((path) => traced.some((step) => KINDS[syscall]!.includes(step.kind) && step.paths.includes(name(path)))));
}
