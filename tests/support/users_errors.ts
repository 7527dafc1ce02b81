/**
 * Every way a users file can be wrong, with the line and user its error must
 * name: shared by the library's tests and the command line's.
 *
 * @module
 */

/** A users file's text, the line and user its error names, and what the reason must match. */
export type ErrorCase = [
  name: string,
  text: string,
  line: number | null,
  user: string | null,
  RegExp,
];

/** A valid argon2id hash, for the cases whose problem is elsewhere. */
export const ARGON =
  "$argon2id$v=19$m=19456,t=2,p=1$dHNmdHBkLXNhbHRzYWx0$Tv4G1EwWajHMQcA3BF/oPPFWVPZ+3qIlw5lAf0HhWqQ";

/** Every way a users file can be wrong; `HOME` stands for an existing directory. */
export const ERROR_CASES: ErrorCase[] = [
  [
    "a plain-text password",
    `[[user]]\nname = "alice"\npassword = "secret"\nhome = "HOME"\n`,
    3,
    'user "alice"',
    /not a hash \(plain text is refused\)/,
  ],
  [
    "an unknown hash format",
    `[[user]]\nname = "alice"\nhome = "HOME"\npassword = "$1$salt$md5cryptmd5cryptmd5cry"\n`,
    4,
    'user "alice"',
    /unknown hash format "\$1\$"/,
  ],
  [
    "a malformed hash",
    `[[user]]\nname = "alice"\nhome = "HOME"\npassword = "$2b$10$short"\n`,
    4,
    'user "alice"',
    /malformed bcrypt hash/,
  ],
  [
    "an unknown key",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\npasword = "x"\n`,
    5,
    'user "alice"',
    /unknown key "pasword" \(known: name, password, home, perm/,
  ],
  [
    "a bad permission letter",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\nperm = "elrx"\n`,
    5,
    'user "alice"',
    /bad permission letter "x" in "elrx"/,
  ],
  [
    "a bad permission letter in an override",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\n\n[[user.override]]\npath = "in"\nperm = "Z"\n`,
    8,
    'user "alice"',
    /bad permission letter "Z"/,
  ],
  [
    "a missing home",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\n`,
    1,
    'user "alice"',
    /^home is missing$/,
  ],
  [
    "a home that does not exist",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME/nowhere"\n`,
    4,
    'user "alice"',
    /home .*\/nowhere does not exist/,
  ],
  [
    "a bad CIDR",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\nallow_from = ["10.0.0.0/33"]\n`,
    5,
    'user "alice"',
    /bad network "10\.0\.0\.0\/33" in allow_from/,
  ],
  [
    "a malformed size",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\ndownload_rate = "10 MB/s"\n`,
    5,
    'user "alice"',
    /malformed size "10 MB\/s" for download_rate/,
  ],
  [
    "a duplicate user",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\n\n[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\n`,
    6,
    'user "alice"',
    /duplicate user: already defined on line 1/,
  ],
  [
    "a max_sessions that is not a whole number",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\nmax_sessions = -1\n`,
    5,
    'user "alice"',
    /max_sessions must be a whole number/,
  ],
  [
    "a password for anonymous",
    `[[user]]\nname = "anonymous"\npassword = "${ARGON}"\nhome = "HOME"\n`,
    3,
    'user "anonymous"',
    /anonymous logs in without a password/,
  ],
  [
    "no password",
    `[[user]]\nname = "alice"\nhome = "HOME"\n`,
    1,
    'user "alice"',
    /password is missing/,
  ],
  [
    "no name",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\n\n[[user]]\nhome = "HOME"\n`,
    6,
    "user #2",
    /^name is missing$/,
  ],
  [
    "an override leaving the home",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = "HOME"\n[[user.override]]\npath = "../x"\nperm = "elr"\n`,
    6,
    'user "alice"',
    /override path "\.\.\/x" leaves the home/,
  ],
  [
    "a TOML syntax error",
    `[[user]]\nname = "alice"\npassword = "${ARGON}"\nhome = \n`,
    4,
    'user "alice"',
    /not valid TOML/,
  ],
  [
    "[user] instead of [[user]]",
    `[user]\nname = "alice"\n`,
    1,
    null,
    /write \[\[user\]\], not \[user\]/,
  ],
  [
    "an unknown top-level key (a user's key outside any [[user]])",
    `home = "/srv/ftp"\n`,
    1,
    null,
    /unknown key "home"/,
  ],
];
