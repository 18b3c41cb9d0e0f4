#!/bin/bash
# build_rpm_repo.sh OUT -- two-repo dnf lab (TESTLAB.md §3): OUT/repo-base, OUT/repo-updates.
#
# Every package is noarch with `AutoReqProv: no` (an empty installroot has no /bin/sh).
# repo-base holds the first version of each package, repo-updates the next one plus
# updateinfo.xml with one advisory per type:
#
#   package         base        updates     advisory in updates
#   demo-tool       1.0-1       1.0-2       LAB-2024-0001 security, Important, CVE-2024-0001
#   demo-lib        1.0-1       1.1-1       LAB-2024-0002 bugfix, Moderate
#   demo-extra      1.0-1       2.0-1       LAB-2024-0003 enhancement, no severity
#   demo-daemon     1.0-1       1.0-2       LAB-2024-0004 bugfix, Critical (-> critical)
#   demo-plain      1.0-1       1.0-2       none (-> other)
#   linux-firmware  20240101-1  20240201-1  none (-> firmware; in needs-restarting's
#                                           reboot list, so installing it asks for one)
#   kmod-demo       1:1.0-1     1:1.0-2     none (-> driver; epoch 1)
#   demo-conflict   1.0-1       1.0-2       none; 1.0-2 also ships /usr/bin/demo-tool, so
#                                           rpm refuses it while demo-tool is installed
#                                           ("file ... conflicts with file from package")
set -euo pipefail
OUT=$(realpath -m "$1")
mkdir -p "$OUT"/{specs,repo-base,repo-updates}
cd "$OUT"

CONFLICT=demo-conflict-1.0-2  # NAME-VERSION-RELEASE that also ships /usr/bin/demo-tool

mk() {  # mk REPO NAME EPOCH VERSION RELEASE
  local repo=$1 name=$2 epoch=$3 ver=$4 rel=$5 top=$OUT/build/$2-$4-$5
  local spec=$OUT/specs/$name-$ver-$rel.spec
  {
    echo "Name: $name"
    [ "$epoch" = 0 ] || echo "Epoch: $epoch"
    printf 'Version: %s\nRelease: %s\n' "$ver" "$rel"
    printf 'Summary: lab package %s\nLicense: MIT\nBuildArch: noarch\nAutoReqProv: no\n' "$name"
    printf '%%description\nTiny package used to test update detection.\n'
    printf '%%install\nmkdir -p %%{buildroot}/usr/bin\n'
    printf "printf '#!/bin/sh\\\\necho %s %s-%s\\\\n' > %%{buildroot}/usr/bin/%s\n" "$name" "$ver" "$rel" "$name"
    printf 'chmod 755 %%{buildroot}/usr/bin/%s\n' "$name"
    [ "$name-$ver-$rel" != "$CONFLICT" ] || printf 'cp %%{buildroot}/usr/bin/%s %%{buildroot}/usr/bin/demo-tool\n' "$name"
    printf '%%files\n/usr/bin/%s\n' "$name"
    [ "$name-$ver-$rel" != "$CONFLICT" ] || echo /usr/bin/demo-tool
    printf '%%changelog\n* Tue Jan 02 2024 Lab <lab@example.invalid> - %s-%s\n- %s\n' \
      "$ver" "$rel" "$([ "$name-$ver-$rel" = demo-tool-1.0-2 ] \
        && echo 'Fix buffer overflow in parser (CVE-2024-0001)' || echo 'Lab build.')"
  } > "$spec"
  rpmbuild --quiet --define "_topdir $top" --define '_build_id_links none' -bb "$spec" >/dev/null 2>&1
  cp "$top"/RPMS/noarch/*.rpm "$OUT/repo-$repo/"
}

while read -r name epoch old new; do
  mk base "$name" "$epoch" "${old%-*}" "${old#*-}" &
  mk updates "$name" "$epoch" "${new%-*}" "${new#*-}" &
done <<'PKGS'
demo-tool 0 1.0-1 1.0-2
demo-lib 0 1.0-1 1.1-1
demo-extra 0 1.0-1 2.0-1
demo-daemon 0 1.0-1 1.0-2
demo-plain 0 1.0-1 1.0-2
linux-firmware 0 20240101-1 20240201-1
kmod-demo 1 1.0-1 1.0-2
demo-conflict 0 1.0-1 1.0-2
PKGS
for job in $(jobs -p); do wait "$job"; done   # a failed build fails the script

advisory() {  # advisory TYPE ID TITLE SEVERITY CVE DESCRIPTION NAME EPOCH VERSION RELEASE
  local type=$1 id=$2 title=$3 sev=$4 cve=$5 desc=$6 name=$7 epoch=$8 ver=$9 rel=${10}
  printf '<update from="lab@example.invalid" status="stable" type="%s" version="2.0">\n' "$type"
  printf '  <id>%s</id><title>%s</title>' "$id" "$title"
  [ -z "$sev" ] || printf '<severity>%s</severity>' "$sev"
  printf '\n  <issued date="2024-01-02 00:00:00"/>\n  <references>'
  [ -z "$cve" ] || printf '<reference href="https://www.cve.org/CVERecord?id=%s" id="%s" type="cve" title="%s"/>' \
    "$cve" "$cve" "$cve"
  printf '</references>\n  <description>%s</description>\n' "$desc"
  printf '  <pkglist><collection short="lab"><name>lab</name>\n'
  printf '    <package name="%s" version="%s" release="%s" epoch="%s" arch="noarch"><filename>%s-%s-%s.noarch.rpm</filename></package>\n' \
    "$name" "$ver" "$rel" "$epoch" "$name" "$ver" "$rel"
  printf '  </collection></pkglist></update>\n'
}
{
  echo '<updates>'
  advisory security LAB-2024-0001 'Important: demo-tool security update' Important CVE-2024-0001 \
    'Fix buffer overflow in parser.' demo-tool 0 1.0 2
  advisory bugfix LAB-2024-0002 'demo-lib bug fix update' Moderate '' \
    'Fix a crash in the demo library.' demo-lib 0 1.1 1
  advisory enhancement LAB-2024-0003 'demo-extra enhancement update' '' '' \
    'Add a new feature.' demo-extra 0 2.0 1
  advisory bugfix LAB-2024-0004 'Critical: demo-daemon bug fix update' Critical '' \
    'Fix data loss on shutdown.' demo-daemon 0 1.0 2
  echo '</updates>'
} > updateinfo.xml

createrepo_c -q --no-database repo-base
createrepo_c -q --no-database repo-updates
modifyrepo_c --mdtype=updateinfo updateinfo.xml repo-updates/repodata >/dev/null
