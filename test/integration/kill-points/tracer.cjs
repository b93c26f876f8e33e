'use strict';
/**
 * Kill-point tracer, preloaded into the CLI with `node --require …/tracer.cjs dist/cli.js …`.
 *
 * A step is one completed call that changes a path inside a traced directory (HSM_CA_TRACE_DIRS, `:`-separated),
 * or one completed child process (key generation and signing happen in children, on the token).
 * - HSM_CA_TRACE_FILE=path  appends one line per step: `kind<TAB>where`, paths as `<dir basename>/<relative path>`.
 * - HSM_CA_KILL_AT=N        SIGKILLs this process right after step N, before the caller sees the result.
 *
 * Calls made by another traced call (fs.writeFileSync calls fs.openSync and fs.writeSync; fs/promises' rm walks
 * the tree) are not steps of their own: an AsyncLocalStorage marks everything below a traced call, so a step is
 * what the application asked for, once. Everything here uses the original functions, never the wrappers.
 */
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const childProcess = require('node:child_process');
const { syncBuiltinESMExports } = require('node:module');
const { AsyncLocalStorage } = require('node:async_hooks');
const { basename, relative, resolve, sep } = require('node:path');
const { fileURLToPath } = require('node:url');

const tracedDirs = (process.env.HSM_CA_TRACE_DIRS || '').split(':').filter(Boolean).map((dir) => resolve(dir))
  .sort((a, b) => b.length - a.length); // the innermost traced directory names a path
const traceFile = process.env.HSM_CA_TRACE_FILE;
const killAt = Number(process.env.HSM_CA_KILL_AT || 0);
const appendFileSync = fs.appendFileSync;
const inside = new AsyncLocalStorage();
let steps = 0;

function pathOf(value) {
  if (typeof value === 'string') return resolve(value);
  if (Buffer.isBuffer(value)) return resolve(value.toString());
  if (value instanceof URL) return fileURLToPath(value);
  return undefined;
}

/** `ca/intermediate/index.txt` for a path inside a traced directory, else undefined. */
function traced(path) {
  if (path === undefined) return undefined;
  const dir = tracedDirs.find((candidate) => path === candidate || path.startsWith(candidate + sep));
  return dir === undefined ? undefined : [basename(dir), relative(dir, path)].filter(Boolean).join('/');
}

function step(kind, where) {
  steps += 1;
  if (traceFile) appendFileSync(traceFile, `${kind}\t${where}\n`);
  if (steps === killAt) process.kill(process.pid, 'SIGKILL');
}

/** fd → path of every descriptor opened here, so fsync(fd) and write(fd) know where they land. */
const fdPaths = new Map();
/** FileHandle → path, for the fs/promises handle methods. */
const handlePaths = new WeakMap();

const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_APPEND;
function opensForWriting(flags) {
  if (flags === undefined || flags === null) return false;
  if (typeof flags === 'number') return (flags & WRITE_FLAGS) !== 0;
  return /[wa+]/.test(String(flags));
}

/** Where a call lands: a path argument, or the path an fd argument was opened with. */
function target(value) {
  if (typeof value === 'number') return fdPaths.get(value);
  if (value && typeof value === 'object' && typeof value.fd === 'number' && handlePaths.has(value)) return handlePaths.get(value);
  return pathOf(value);
}

/**
 * Which traced place a call changes, or undefined if it changes none. `where(args)` returns the paths it touches.
 */
function describe(args, where) {
  const names = where(args).map(traced);
  if (names.every((name) => name === undefined)) return undefined;
  return names.map((name, i) => name ?? String(where(args)[i])).join(' -> ');
}

const first = (args) => [target(args[0])];
const both = (args) => [pathOf(args[0]), pathOf(args[1])];
const second = (args) => [pathOf(args[1])];

/** Path-changing calls, by how their arguments name the changed path. */
const MUTATORS = {
  writeFile: first, appendFile: first, truncate: first, mkdir: first, mkdtemp: first, rmdir: first, rm: first,
  unlink: first, chmod: first, lchmod: first, chown: first, lchown: first, utimes: first, lutimes: first,
  rename: both, link: both, copyFile: both, cp: both, symlink: second,
  // fd-based: the path the fd was opened with
  write: first, writev: first, fsync: first, fdatasync: first, ftruncate: first, fchmod: first, fchown: first, futimes: first,
};

/** Runs `call` below the "inside a traced call" mark, so its own fs calls are not steps. */
function below(call) {
  return inside.run(true, call);
}

function wrapSync(object, name, kind, where, after) {
  const original = object[name];
  if (typeof original !== 'function') return;
  object[name] = function traceSync(...args) {
    if (inside.getStore()) return original.apply(this, args);
    const result = below(() => original.apply(this, args));
    if (after) after(args, result);
    const place = where && describe(args, where);
    if (place !== undefined) step(kind, place);
    return result;
  };
}

function wrapCallback(object, name, kind, where, after) {
  const original = object[name];
  if (typeof original !== 'function') return;
  object[name] = function traceCallback(...args) {
    const callback = args.at(-1);
    if (inside.getStore() || typeof callback !== 'function') return original.apply(this, args);
    args[args.length - 1] = function done(error, result, ...rest) {
      if (!error) {
        if (after) after(args, result);
        const place = where && describe(args, where);
        if (place !== undefined) step(kind, place);
      }
      return callback.call(this, error, result, ...rest);
    };
    return below(() => original.apply(this, args));
  };
}

function wrapPromise(object, name, kind, where, after) {
  const original = object[name];
  if (typeof original !== 'function') return;
  object[name] = function tracePromise(...args) {
    if (inside.getStore()) return original.apply(this, args);
    return below(() => original.apply(this, args)).then((result) => {
      if (after) after(args, result);
      const place = where && describe(args, where);
      if (place !== undefined) step(kind, place);
      return result;
    });
  };
}

const rememberFd = (args, fd) => fdPaths.set(fd, pathOf(args[0]));
const openTarget = (args) => (opensForWriting(args[1]) ? [pathOf(args[0])] : []);
const forgetFd = (args) => fdPaths.delete(args[0]);

for (const [name, where] of Object.entries(MUTATORS)) {
  wrapSync(fs, `${name}Sync`, name, where);
  wrapCallback(fs, name, name, where);
  wrapPromise(fsp, name, name, where);
}
wrapSync(fs, 'openSync', 'open', openTarget, rememberFd);
wrapCallback(fs, 'open', 'open', openTarget, rememberFd);
wrapSync(fs, 'closeSync', 'close', undefined, forgetFd);
wrapCallback(fs, 'close', 'close', undefined, forgetFd);

/** The FileHandle class is not exported: its prototype is patched when the first handle is opened. */
let handlesPatched = false;
function patchFileHandle(handle) {
  if (handlesPatched) return;
  handlesPatched = true;
  const proto = Object.getPrototypeOf(handle);
  const ownPath = function (args) { return [handlePaths.get(this)]; };
  for (const name of ['write', 'writev', 'writeFile', 'appendFile', 'sync', 'datasync', 'truncate', 'chmod', 'chown', 'utimes']) {
    const original = proto[name];
    if (typeof original !== 'function') continue;
    proto[name] = function traceHandle(...args) {
      if (inside.getStore()) return original.apply(this, args);
      return below(() => original.apply(this, args)).then((result) => {
        const place = describe(args, ownPath.bind(this));
        if (place !== undefined) step(name, place);
        return result;
      });
    };
  }
}
wrapPromise(fsp, 'open', 'open', openTarget, (args, handle) => {
  patchFileHandle(handle);
  handlePaths.set(handle, pathOf(args[0]));
});

/** The program and its arguments, file names shortened to their last part: `pkcs11-tool … --keypairgen …`. */
function commandLine(file, args) {
  const shown = (Array.isArray(args) ? args : []).map((arg) => (String(arg).includes('/') ? basename(String(arg)) : String(arg)));
  const line = [basename(String(file)), ...shown].join(' ');
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

/** A child is a step when it exits: the listener is attached before the caller's, so a kill here hides the exit. */
function wrapSpawn(name) {
  const original = childProcess[name];
  childProcess[name] = function traceSpawn(file, args, ...rest) {
    if (inside.getStore()) return original.call(this, file, args, ...rest);
    const child = below(() => original.call(this, file, args, ...rest));
    child.once('exit', () => step('child', commandLine(file, args)));
    return child;
  };
}
for (const name of ['spawn', 'execFile', 'exec', 'fork']) wrapSpawn(name);
for (const name of ['spawnSync', 'execFileSync', 'execSync']) {
  const original = childProcess[name];
  childProcess[name] = function traceSpawnSync(file, args, ...rest) {
    if (inside.getStore()) return original.call(this, file, args, ...rest);
    const result = below(() => original.call(this, file, args, ...rest));
    step('child', commandLine(file, args));
    return result;
  };
}

syncBuiltinESMExports();
