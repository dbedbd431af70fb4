# calib_embed.cmake - write the calibration file IN into OUT as the C array
# st_calib_builtin_text (NUL-terminated), the calibration built into stcore (calib.c).
#   cmake -DIN=calib/fmnist.calib -DOUT=calib_text.c -P calib_embed.cmake
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n"
       bytes "${bytes}")
file(WRITE "${OUT}.tmp"
     "/* Generated from ${IN} by core/calib_embed.cmake: do not edit. */\n"
     "extern const char st_calib_builtin_text[];\n"
     "const char st_calib_builtin_text[] = {\n${bytes}0x00};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
