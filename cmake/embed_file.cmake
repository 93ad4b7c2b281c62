# Turns INPUT into a C++ source defining `extern const std::string_view SYMBOL`.
file(READ "${INPUT}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}"
"// Generated from ${INPUT} at build time; do not edit.\n#include <string_view>\nnamespace wj::embed {\nstatic const char kBytes[] = {\n${bytes}0};\nextern const std::string_view ${SYMBOL}(kBytes, sizeof(kBytes) - 1);\n}\n")
