# Run at install time (see install(CODE) in the top-level CMakeLists.txt).
# Inputs: SP_PC_IN, SP_PC_OUT, SP_LIBDIR_REL, SP_INCLUDEDIR_REL,
#         PROJECT_NAME, PROJECT_VERSION, PROJECT_DESCRIPTION,
#         PC_REQUIRES_PRIVATE, PC_LIBS_PRIVATE.
# CMAKE_INSTALL_PREFIX is the effective install prefix (cmake --install --prefix).

set(PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
if(IS_ABSOLUTE "${SP_LIBDIR_REL}")
  set(PC_LIBDIR "${SP_LIBDIR_REL}")
  set(_pc_dest "${SP_LIBDIR_REL}/pkgconfig")
else()
  set(PC_LIBDIR "${CMAKE_INSTALL_PREFIX}/${SP_LIBDIR_REL}")
  set(_pc_dest "${CMAKE_INSTALL_PREFIX}/${SP_LIBDIR_REL}/pkgconfig")
endif()
if(IS_ABSOLUTE "${SP_INCLUDEDIR_REL}")
  set(PC_INCLUDEDIR "${SP_INCLUDEDIR_REL}")
else()
  set(PC_INCLUDEDIR "${CMAKE_INSTALL_PREFIX}/${SP_INCLUDEDIR_REL}")
endif()

configure_file("${SP_PC_IN}" "${SP_PC_OUT}" @ONLY)
# file(INSTALL) honours DESTDIR and records the file in install_manifest.txt.
file(INSTALL DESTINATION "${_pc_dest}" TYPE FILE FILES "${SP_PC_OUT}")
