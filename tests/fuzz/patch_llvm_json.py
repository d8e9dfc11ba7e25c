# Writes a copy of LLVM 14's llvm/Support/JSON.h that clang 14 can compile in C++20 mode against libstdc++ 12:
# json::Array's inline members are moved after json::Value is complete. Usage: patch_llvm_json.py OUT_DIR
# (then add -I OUT_DIR to CMAKE_CXX_FLAGS of the fuzz build). Only the fuzz build needs it; GCC builds do not.
import sys
import re
src=open('/usr/lib/llvm-14/include/llvm/Support/JSON.h').read()
start=src.index('  Value &operator[](size_t I) { return V[I]; }')
end=src.index('  friend bool operator==(const Array &L, const Array &R) { return L.V == R.V; }')
body=src[start:end]
defs=[]
members=re.findall(r'(  (?:template <[^>]*> )?[^\n]*?\{.*?\}\n)', body, re.S)
newbody=body
for m in members:
    if m.strip().startswith('//'): continue
    mm=re.match(r'\s*(template <[^>]*> )?(.*?)\s*\{(.*)\}\s*$', m, re.S)
    tmpl, sig, impl = mm.group(1) or '', mm.group(2), mm.group(3)
    newbody=newbody.replace(m, '  '+tmpl+sig+';\n',1)
    name_m=re.search(r'(operator\[\]|[A-Za-z_]+)\s*\(', sig)
    q=sig[:name_m.start()]+'Array::'+sig[name_m.start():]
    if q.startswith('iterator '): q='Array::'+q
    if q.startswith('const_iterator '): q='Array::'+q
    defs.append(tmpl+'inline '+q+' {'+impl+'}\n')
src=src[:start]+newbody+src[end:]
src=src.replace('  friend bool operator==(const Array &L, const Array &R) { return L.V == R.V; }','  friend bool operator==(const Array &L, const Array &R);',1)
defs.append('inline bool operator==(const Array &L, const Array &R) { return L.V == R.V; }\n')
anchor='\nbool operator==(const Value &, const Value &);\n'
assert anchor in src
src=src.replace(anchor, '\n// qjit fuzz build: Array members defined after Value is complete (clang 14 + libstdc++ 12, C++20)\n'+''.join(defs)+anchor[1:],1)
import os
out = os.path.join(sys.argv[1], 'llvm', 'Support')
os.makedirs(out, exist_ok=True)
open(os.path.join(out, 'JSON.h'), 'w').write(src)
