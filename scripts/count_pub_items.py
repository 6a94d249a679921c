"""Count pub items reachable from the crate root: walks `pub mod` declarations from
src/lib.rs (a module declared `mod`, `pub(crate) mod` or `#[doc(hidden)] pub mod` is not
followed) and counts item declarations that are plain `pub` (not pub(crate)/pub(super)/
pub(in ...)) in the reachable files, struct fields and enum variants excluded.
`pub use` lines count as items (re-exports). Lines from a `#[cfg(test)]` or
`#[doc(hidden)]` attribute to the end of a file are not counted (the test module and
the hidden `internal` module stand at the end of their files)."""
import re, sys, os
root = sys.argv[1]
item = re.compile(r'^\s*pub (?:unsafe |async |const |extern "C" )*(fn|struct|enum|trait|type|const|static|mod|use|union|macro)\b')
modre = re.compile(r'^(\s*)(#\[doc\(hidden\)\]\s*)?(pub(?:\([^)]*\))? )?mod (\w+)\s*;')
def modfile(dirpath, name):
    for c in (os.path.join(dirpath, name + '.rs'), os.path.join(dirpath, name, 'mod.rs')):
        if os.path.exists(c): return c
def walk(path, childdir, out):
    lines = open(path).read().split('\n')
    out.append(path)
    prev_hidden = False
    for l in lines:
        m = modre.match(l)
        hidden = prev_hidden or (m and m.group(2))
        if m and m.group(3) == 'pub ' and not hidden:
            f = modfile(childdir, m.group(4))
            if f:
                walk(f, os.path.join(childdir, m.group(4)), out)
        prev_hidden = l.strip() == '#[doc(hidden)]'
files = []
walk(os.path.join(root, 'src/lib.rs'), os.path.join(root, 'src'), files)
total = 0; per = {}
for f in files:
    n = 0
    in_test = False
    for l in open(f):
        if l.strip().startswith('#[cfg(test)]') or l.strip() == '#[doc(hidden)]': in_test = True
        if not in_test and item.match(l): n += 1
    rel = os.path.relpath(f, os.path.join(root, 'src'))
    top = rel.split('/')[0]
    per[top] = per.get(top, 0) + n
    total += n
print('reachable files:', len(files), 'pub items:', total)
for k in sorted(per): print(f'  {k}: {per[k]}')
