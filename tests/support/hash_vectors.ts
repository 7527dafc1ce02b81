/**
 * Password hashes made by other programs, with their passwords: what a users file
 * migrated from another server holds.
 *
 * @module
 */

/** A hash, its password, and where it comes from. */
export interface HashVector {
  /** The format, for messages. */
  format: string;
  /** The hash, as stored. */
  hash: string;
  /** The password it is the hash of. */
  password: string;
  /** What made it. */
  source: string;
}

/** One or more hashes of each format, made elsewhere. */
export const VECTORS: HashVector[] = [
  {
    format: "argon2id",
    hash:
      "$argon2id$v=19$m=19456,t=2,p=1$dHNmdHBkLXNhbHRzYWx0$Tv4G1EwWajHMQcA3BF/oPPFWVPZ+3qIlw5lAf0HhWqQ",
    password: "argon2 password",
    source: "the reference argon2 command (phc-winner-argon2), -id -t 2 -k 19456 -p 1",
  },
  {
    format: "argon2i",
    hash:
      "$argon2i$v=19$m=4096,t=3,p=1$dHNmdHBkLXNhbHRzYWx0$lWYcP2XLsQE4he9RyGUyoC6TMV26aptI6SANxD5HXBY",
    password: "argon2i password",
    source: "the reference argon2 command, -i -t 3 -k 4096 -p 1",
  },
  {
    format: "bcrypt $2b$",
    hash: "$2b$04$mMLc5wED2mfDQeNyIaZeR.fNXRl6NXBeb1es.sokLbMjBkeX9NpyO",
    password: "bcrypt password",
    source: "Python's bcrypt 3.2",
  },
  {
    format: "bcrypt $2a$",
    hash: "$2a$04$hIyEUzdDs.WgVxr1trB1y.5VfR03b/DiPfr9jmWEoBd86fqI2NdQi",
    password: "bcrypt password",
    source: "Python's bcrypt 3.2, prefix 2a",
  },
  {
    format: "bcrypt $2y$",
    hash: "$2y$04$jTXW9iThQIXhEL9LKKN1w.EmXEFFJxWnwOQ92.YZ9yUkI5kNIbfBy",
    password: "bcrypt 2y password",
    source: "Apache's htpasswd -B -C 4",
  },
  {
    format: "scrypt",
    hash:
      "$scrypt$ln=10,r=8,p=1$dHNmdHBkLXRlc3Qtc2FsdA$DHQKRHa2WIOgxwG7uWDJpXjEVS8L8LiM9GmDjb8Ddis",
    password: "scrypt password",
    source: "passlib 1.7 (passlib.hash.scrypt), the PHC string format",
  },
  {
    format: "SHA-512-crypt",
    hash:
      "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
    password: "Hello world!",
    source: "Drepper's specification, first test vector",
  },
  {
    format: "SHA-512-crypt rounds=",
    hash:
      "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
    password:
      "a very much longer text to encrypt.  This one even stretches over morethan one line.",
    source: "Drepper's specification, fourth test vector",
  },
  {
    format: "SHA-512-crypt (glibc)",
    hash:
      "$6$tsftpdsalt$rb.HolkSzulsDNzWDcyGfhd/xJuTOe103C4wdx04uuVbGvMfBhtu3NTbzD//23KKqu1LDXIhmcxfLP/CUbZUV.",
    password: "sha512 password",
    source: "passlib 1.7 (passlib.hash.sha512_crypt), the /etc/shadow form",
  },
];
