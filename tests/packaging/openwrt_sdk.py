"""A stand-in for the parts of the OpenWrt SDK that build a package, run with real GNU make.

The feed Makefile is used as it is: it includes ``$(TOPDIR)/rules.mk``, ``$(INCLUDE_DIR)/package.mk`` and the
packages feed's ``lang/python/python3-package.mk``, and those are written here with the rules upstream
applies, so make expands ``Package/<name>/install`` exactly as the SDK would:

- ``rules.mk``: ``INSTALL_BIN``/``INSTALL_DIR``/``INSTALL_DATA``/``INSTALL_CONF`` (install -m0755/-d/-m0644/
  -m0600), ``CP`` (cp -fpR), ``FIND``, ``SHELL`` (bash).
- ``include/package-defaults.mk`` ``Package/Default``: ``VERSION:=$(PKG_VERSION)-$(PKG_RELEASE)``,
  ``PKGARCH:=$(ARCH)`` unless the package says otherwise, ``SOURCE`` = the package directory.
- ``include/package.mk``: ``BuildPackage`` (evals ``Package/Default`` then ``Package/<name>``, errors on a missing
  TITLE/CATEGORY/SECTION/VERSION, then ``Dumpinfo/Package`` under ``DUMP=1`` or the ipkg target);
  ``Build/DefaultTargets`` (the ``.prepared`` stamp runs ``Build/Prepare``, ``.built`` runs ``Build/Configure``,
  ``Build/Compile`` then ``Build/Install``); ``USE_SOURCE_DIR`` makes ``Build/Prepare`` link the build
  directory to it, otherwise the tarball is unpacked into ``$(BUILD_DIR)`` (``include/unpack.mk``) after
  ``include/download.mk`` checked ``PKG_HASH`` (``skip`` skips the check).
- ``include/package-dumpinfo.mk`` ``Dumpinfo/Package``: the metadata lines scripts/metadata.pm parses.
- ``include/package-pack.mk`` ``BuildTarget/ipkg``: ``Package/<name>/install`` into
  ``$(PKG_BUILD_DIR)/ipkg-$(PKGARCH)/<name>``, editor/VCS debris removed, ``conffiles`` the package does not
  ship listed in ``/lib/upgrade/keep.d/<name>``, ``CONTROL/control`` (Depends through ``filter_deps``:
  ``@`` conditions dropped, ``+`` stripped; ``Require-User`` from ``USERID`` when set, as package-ipkg.mk's
  ``addfield``), ``CONTROL/conffiles``, postinst/prerm calling default_postinst/
  default_prerm; ``scripts/ipkg-build`` packs ``./debian-binary``, ``./data.tar.gz``, ``./control.tar.gz``
  into a gzipped tar named ``<name>_<version>_<arch>.ipk``.
- openwrt/packages ``lang/python/python3-package.mk``: ``Python3/CompileAll`` (``compileall -r 20 -b -d '/'``
  with the host Python), ``Python3/DeleteSourceFiles``, and the wheel build that ``PYTHON3_PKG_BUILD`` != 0
  puts in ``Build/Compile``/``Build/Install`` (``python -m build --wheel``, ``python -m installer``).

Versions read: openwrt/openwrt include/package.mk at 7a1f4c5, package-defaults.mk at 7502d4b (newer trees take
MAINTAINER from PKG_MAINTAINER, as here), package-dumpinfo.mk at 579d540, package-pack.mk at 7fbdb3b (the
ipk branch of ``BuildTarget/ipkg``), package/base-files' lib/functions.sh ``default_postinst`` (runs the
package's uci-defaults, then enables and starts its init scripts); openwrt/packages
lang/python/python3-package.mk at 3d2b5b7.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

RULES_MK = """\
SHELL:=/usr/bin/env bash
INCLUDE_DIR:=$(TOPDIR)/include
BUILD_DIR:=$(TOPDIR)/build_dir/target
DL_DIR:=$(TOPDIR)/dl
PACKAGE_DIR:=$(TOPDIR)/bin/packages
CP:=cp -fpR
LN:=ln -sf
FIND:=find
TAR:=tar
SED:=sed -i -e
INSTALL_BIN:=install -m0755
INSTALL_DIR:=install -d -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
empty:=
space:=$(empty) $(empty)
comma:=,
"""

PACKAGE_MK = r"""
PKG_BUILD_DIR ?= $(BUILD_DIR)/$(PKG_NAME)$(if $(PKG_VERSION),-$(PKG_VERSION))
PKG_INSTALL_DIR ?= $(PKG_BUILD_DIR)/ipkg-install
STAMP_PREPARED:=$(PKG_BUILD_DIR)/.prepared
STAMP_BUILT:=$(PKG_BUILD_DIR)/.built

all: $(if $(DUMP),dumpinfo,compile)

define Package/Default
  SECTION:=opt
  CATEGORY:=Extra packages
  DEPENDS:=
  PROVIDES:=
  MAINTAINER:=$(PKG_MAINTAINER)
  SOURCE:=$(patsubst $(TOPDIR)/%,%,$(CURDIR))
  VERSION:=$(PKG_VERSION)$(if $(PKG_RELEASE),-$(PKG_RELEASE))
  PKGARCH:=$(ARCH)
  TITLE:=
  URL:=
  LICENSE:=$(PKG_LICENSE)
  LICENSE_FILES:=$(PKG_LICENSE_FILES)
endef

ifdef USE_SOURCE_DIR
define Build/Prepare/Default
	rm -rf $(PKG_BUILD_DIR)
	ln -snf $(USE_SOURCE_DIR) $(PKG_BUILD_DIR)
endef
else
define Build/Prepare/Default
	test -n "$(PKG_SOURCE)" && test -f "$(DL_DIR)/$(PKG_SOURCE)"
	$(if $(filter skip,$(PKG_HASH)),,echo "$(PKG_HASH)  $(DL_DIR)/$(PKG_SOURCE)" | sha256sum -c)
	gzip -dc $(DL_DIR)/$(PKG_SOURCE) | $(TAR) -C $(PKG_BUILD_DIR)/.. -xf -
endef
endif

define Build/Configure/Default
	if [ -x $(PKG_BUILD_DIR)/configure ]; then cd $(PKG_BUILD_DIR) && ./configure; fi
endef
define Build/Compile/Default
	$(MAKE) -C $(PKG_BUILD_DIR)
endef
Build/Prepare=$(call Build/Prepare/Default,)
Build/Configure=$(call Build/Configure/Default,)
Build/Compile=$(call Build/Compile/Default,)
Build/Install=

strip_deps=$(strip $(subst +,,$(filter-out @%,$(1))))
filter_deps=$(foreach dep,$(call strip_deps,$(1)),$(if $(findstring :,$(dep)),,$(dep)))
mergelist=$(subst $(space),$(comma)$(space),$(strip $(1)))

define Dumpinfo/Package
$(info Package: $(1)
Version: $(VERSION)
Depends: $(DEPENDS)
Provides: $(PROVIDES)
$(if $(PKG_BUILD_DEPENDS),Build-Depends: $(PKG_BUILD_DEPENDS)
)Section: $(SECTION)
Category: $(CATEGORY)
Title: $(TITLE)
Maintainer: $(MAINTAINER)
Source: $(PKG_SOURCE)
$(if $(LICENSE),License: $(LICENSE)
)$(if $(LICENSE_FILES),LicenseFiles: $(LICENSE_FILES)
)Type: ipkg
Description: $(if $(Package/$(1)/description),$(Package/$(1)/description),$(TITLE))
$(if $(URL),$(URL)
)@@
)
endef

define BuildTarget/ipkg
  IDIR_$(1):=$(PKG_BUILD_DIR)/ipkg-$(PKGARCH)/$(1)
  compile: $$(IDIR_$(1))/CONTROL/control
  $$(IDIR_$(1))/CONTROL/control: $(STAMP_BUILT)
	rm -rf $$(IDIR_$(1))
	mkdir -p $$(IDIR_$(1))
	$(call Package/$(1)/install,$$(IDIR_$(1)))
	-find $$(IDIR_$(1)) -name 'CVS' -o -name '.svn' -o -name '.#*' -o -name '*~' | xargs -r rm -rf
	for x in $(strip $(Package/$(1)/conffiles)); do [ -f "$$(IDIR_$(1))/$$$$x" ] || { \
		mkdir -p $$(IDIR_$(1))/lib/upgrade/keep.d; echo "$$$$x" >> $$(IDIR_$(1))/lib/upgrade/keep.d/$(1); }; done
	mkdir -p $$(IDIR_$(1))/CONTROL
	printf '%s\n' "Package: $(1)" "Version: $(VERSION)" \
		"Depends: $(call mergelist,$(call filter_deps,$(DEPENDS)))" "Source: $(SOURCE)" \
		"SourceName: $(PKG_NAME)" "License: $(LICENSE)" "LicenseFiles: $(LICENSE_FILES)" \
		"Section: $(SECTION)" $(if $(USERID),"Require-User: $(USERID)") \
		"URL: $(URL)" "Maintainer: $(MAINTAINER)" "Architecture: $(PKGARCH)" \
		> $$(IDIR_$(1))/CONTROL/control
	$(if $(strip $(Package/$(1)/conffiles)),printf '%s\n' $(strip $(Package/$(1)/conffiles)) \
		> $$(IDIR_$(1))/CONTROL/conffiles)
	printf '%s\n' '#!/bin/sh' '[ -s $$$${IPKG_INSTROOT}/lib/functions.sh ] || exit 0' \
		'. $$$${IPKG_INSTROOT}/lib/functions.sh' 'default_postinst $$$$0 $$$$@' > $$(IDIR_$(1))/CONTROL/postinst
	printf '%s\n' '#!/bin/sh' '[ -s $$$${IPKG_INSTROOT}/lib/functions.sh ] || exit 0' \
		'. $$$${IPKG_INSTROOT}/lib/functions.sh' 'default_prerm $$$$0 $$$$@' > $$(IDIR_$(1))/CONTROL/prerm
endef

define Build/DefaultTargets
  $(STAMP_PREPARED):
	@-rm -rf $(PKG_BUILD_DIR)
	@mkdir -p $(PKG_BUILD_DIR)
	$(Build/Prepare)
	touch $$@
  $(STAMP_BUILT): $(STAMP_PREPARED)
	$(Build/Configure)
	$(Build/Compile)
	$(Build/Install)
	touch $$@
endef

define BuildPackage
  $(eval $(Package/Default))
  $(eval $(Package/$(1)))
  $(foreach FIELD,TITLE CATEGORY SECTION VERSION,$(if $($(FIELD)),,$(error Package/$(1) is missing the $(FIELD) field)))
  $(if $(DUMP),$(Dumpinfo/Package),$(BuildTarget/ipkg))
  $(if $(DUMP),,$(call Build/DefaultTargets,$(1)))
endef

dumpinfo:
compile:
.PHONY: all dumpinfo compile
"""

PYTHON3_PACKAGE_MK = """
python3_mk_path:=$(dir $(lastword $(MAKEFILE_LIST)))
PYTHON3_VERSION_MAJOR:={major}
PYTHON3_VERSION_MINOR:={minor}
PYTHON3_VERSION:=$(PYTHON3_VERSION_MAJOR).$(PYTHON3_VERSION_MINOR)
HOST_PYTHON3_BIN:={python}
PYTHON3_VARS = PYTHONDONTWRITEBYTECODE=1

define Python3/Run
	cd "$(if $(strip $(1)),$(strip $(1)),.)" && $(PYTHON3_VARS) $(3) $(HOST_PYTHON3_BIN) $(2)
endef

PYTHON3_COMPILEALL_MAX_RECURSION_LEVEL:=20
define Python3/CompileAll
	$(call Python3/Run,, -m compileall -r "$(PYTHON3_COMPILEALL_MAX_RECURSION_LEVEL)" -b -d '/' $(1), \\
		$(if $(SOURCE_DATE_EPOCH),PYTHONHASHSEED="$(SOURCE_DATE_EPOCH)"))
endef

define Python3/DeleteSourceFiles
	$(FIND) $(1) -type f -name '*.py' -delete
endef

PYTHON3_PKG_BUILD?=1
define Py3Build/Compile
	$(call Python3/Run,$(PKG_BUILD_DIR), -m build --no-isolation --outdir "$(PKG_BUILD_DIR)"/openwrt-build \\
		--wheel "$(PKG_BUILD_DIR)")
endef
define Py3Build/Install
	$(call Python3/Run,$(PKG_BUILD_DIR), -m installer --destdir "$(PKG_INSTALL_DIR)" --no-compile-bytecode \\
		--prefix /usr "$(PKG_BUILD_DIR)"/openwrt-build/$(subst -,_,$(PKG_NAME))-$(PKG_VERSION)-*.whl)
endef
ifeq ($(strip $(PYTHON3_PKG_BUILD)),1)
  Build/Compile=$(Py3Build/Compile)
  Build/Install=$(Py3Build/Install)
endif
"""


@dataclass(frozen=True)
class Sdk:
    """A TOPDIR with the stand-in build rules, the packages feed's python3-package.mk, and our feed linked."""

    topdir: Path
    arch: str = "mipsel_24kc"

    @classmethod
    def create(
        cls, topdir: Path, feed_name: str, feed_path: Path, python: str, arch: str = "mipsel_24kc"
    ) -> Sdk:
        (topdir / "include").mkdir(parents=True, exist_ok=True)
        (topdir / "rules.mk").write_text(RULES_MK)
        (topdir / "include" / "package.mk").write_text(PACKAGE_MK)
        mk = topdir / "feeds" / "packages" / "lang" / "python" / "python3-package.mk"
        mk.parent.mkdir(parents=True, exist_ok=True)
        major, minor = sys.version_info[:2]
        mk.write_text(PYTHON3_PACKAGE_MK.format(major=major, minor=minor, python=python))
        (topdir / "feeds" / feed_name).symlink_to(feed_path)  # a src-link feed
        (topdir / "dl").mkdir(exist_ok=True)
        return cls(topdir, arch)

    def make_vars(self) -> dict[str, str]:
        return {"TOPDIR": str(self.topdir), "ARCH": self.arch}

    def compile(self, package_dir: Path, **extra: str) -> subprocess.CompletedProcess[str]:
        """``make package/<dir>/compile``: prepare, build and install into the ipkg directory."""
        args = [f"{k}={v}" for k, v in {**self.make_vars(), **extra}.items()]
        return subprocess.run(
            ["make", "-s", "--no-print-directory", "-C", str(package_dir), "compile", *args],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )


@dataclass(frozen=True)
class Ipk:
    """A built package: its data files (paths as installed, e.g. ``/usr/bin/x``) and control fields."""

    path: Path
    files: dict[str, int]  # path -> size in bytes
    control: dict[str, str]
    conffiles: list[str]
    installed_size: int


def _tar_gz(root: Path, names: list[Path]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        for path in names:
            info = tar.gettarinfo(str(path), arcname="./" + path.relative_to(root).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
    return buf.getvalue()


def pack_ipk(idir: Path, out_dir: Path) -> Ipk:
    """scripts/ipkg-build: data.tar.gz + control.tar.gz + debian-binary, in a gzipped tar."""
    control_dir = idir / "CONTROL"
    data = sorted(p for p in idir.rglob("*") if control_dir not in p.parents and p != control_dir)
    files = {"/" + p.relative_to(idir).as_posix(): p.stat().st_size for p in data if p.is_file()}
    installed = sum(files.values())
    fields = dict(
        line.split(": ", 1) for line in (control_dir / "control").read_text().splitlines() if ": " in line
    )
    fields["Installed-Size"] = str(installed)
    (control_dir / "control").write_text("".join(f"{k}: {v}\n" for k, v in fields.items()))
    conffiles_path = control_dir / "conffiles"
    conffiles = conffiles_path.read_text().split() if conffiles_path.exists() else []
    out_dir.mkdir(parents=True, exist_ok=True)
    ipk = out_dir / f"{fields['Package']}_{fields['Version']}_{fields['Architecture']}.ipk"
    members = {
        "debian-binary": b"2.0\n",
        "data.tar.gz": _tar_gz(idir, data),
        "control.tar.gz": _tar_gz(control_dir, sorted(control_dir.iterdir())),
    }
    with tarfile.open(ipk, "w:gz", format=tarfile.GNU_FORMAT) as outer:
        for name, blob in members.items():
            info = tarfile.TarInfo("./" + name)
            info.size = len(blob)
            outer.addfile(info, io.BytesIO(blob))
    return Ipk(ipk, files, fields, conffiles, installed)
