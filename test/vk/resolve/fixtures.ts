/** Values that must survive resolution byte-for-byte. */
export const PEM = `-----BEGIN CERTIFICATE-----
MIIBszCCAVmgAwIBAgIUW7x+/abc==
Zm9vYmFy/+=
-----END CERTIFICATE-----
`;
/** Everything a shell or a template engine would love to mangle. */
export const HOSTILE = `it's "quoted" $HOME \${X} $(not-a-var) \`uname -a\` \\n back\\slash\ttab\nnew line; rm -rf / # ünïcødé 🚀 %s {{x}}`;
