// JSON Patch (RFC 6902) for protocol-2 updates, copy-on-write: `applyPatch` returns the patched
// document and leaves the one it was given as it was. Only the objects and arrays on the path of
// an operation are copied (once per patch); the rest is shared with the previous view, so each
// update's view stays as it was at its seq, and a patch that fails half-way changes nothing.
// Views are read-only: the page never mutates one. Every operation of the RFC: add, remove,
// replace, move, copy, test. The same rules as the Python client's (auctionactors/client/patch.py).

export class PatchError extends Error {
  name = "PatchError";
}

const isContainer = (v) => v !== null && typeof v === "object";
const has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);

function pointer(op, field) {
  const text = op[field];
  if (typeof text !== "string" || (text !== "" && text[0] !== "/")) {
    throw new PatchError(`${field} is not a JSON pointer: ${JSON.stringify(text)}`);
  }
  if (text === "") return [];
  return text.slice(1).split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function index(token, size) {
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new PatchError(`not an array index: ${token}`);
  const i = Number(token);
  if (i >= size) throw new PatchError(`index ${i} out of range`);
  return i;
}

function child(node, token) {
  if (Array.isArray(node)) return node[index(token, node.length)];
  if (isContainer(node)) {
    if (!has(node, token)) throw new PatchError(`no member ${token}`);
    return node[token];
  }
  throw new PatchError(`cannot look into ${typeof node}`);
}

function value(op) {
  if (!has(op, "value")) throw new PatchError(`${op.op} without a value`);
  return op.value;
}

function equal(a, b) {
  if (a === b) return true;
  if (Array.isArray(a) !== Array.isArray(b) || !isContainer(a) || !isContainer(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => has(b, k) && equal(a[k], b[k]));
}

const clone = (v) => (isContainer(v) ? JSON.parse(JSON.stringify(v)) : v);

/** `doc` with `ops` applied (`doc` itself is not modified); throws PatchError. */
export function applyPatch(doc, ops) {
  if (!Array.isArray(ops)) throw new PatchError("a patch is a list of operations");
  const owned = new Set(); // the containers copied for this patch: those may be mutated
  let root = doc;
  const own = (node) => {
    if (!isContainer(node) || owned.has(node)) return node;
    const mine = Array.isArray(node) ? node.slice() : { ...node };
    owned.add(mine);
    return mine;
  };
  const parentOf = (path) => {
    root = own(root);
    let node = root;
    for (const token of path.slice(0, -1)) {
      const key = Array.isArray(node) ? index(token, node.length) : token;
      const next = own(child(node, token));
      node[key] = next;
      node = next;
    }
    if (!isContainer(node)) throw new PatchError(`cannot change inside ${typeof node}`);
    return node;
  };
  const get = (path) => path.reduce(child, root);
  const add = (path, v) => {
    if (!path.length) { root = v; return; }
    const parent = parentOf(path);
    const token = path[path.length - 1];
    if (Array.isArray(parent)) {
      parent.splice(token === "-" ? parent.length : index(token, parent.length + 1), 0, v);
    } else {
      parent[token] = v;
    }
  };
  const remove = (path) => {
    if (!path.length) throw new PatchError("cannot remove the whole document");
    const parent = parentOf(path);
    const token = path[path.length - 1];
    if (Array.isArray(parent)) parent.splice(index(token, parent.length), 1);
    else if (has(parent, token)) delete parent[token];
    else throw new PatchError(`no member ${token} to remove`);
  };
  for (const op of ops) {
    if (!isContainer(op) || Array.isArray(op)) throw new PatchError("an operation is an object");
    const path = pointer(op, "path");
    switch (op.op) {
      case "add": add(path, value(op)); break;
      case "remove": remove(path); break;
      case "replace": {
        const v = value(op);
        if (path.length) remove(path);
        add(path, v);
        break;
      }
      case "move": {
        const from = pointer(op, "from");
        if (path.length > from.length && from.every((t, i) => t === path[i])) {
          throw new PatchError("cannot move a value into itself");
        }
        const v = get(from);
        const same = from.length === path.length && from.every((t, i) => t === path[i]);
        if (!same) {
          remove(from);
          add(path, v);
        }
        break;
      }
      case "copy": add(path, clone(get(pointer(op, "from")))); break;
      case "test":
        if (!equal(get(path), value(op))) throw new PatchError(`test failed at ${op.path}`);
        break;
      default: throw new PatchError(`unknown operation ${op.op}`);
    }
  }
  return root;
}
