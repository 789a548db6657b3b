// The version, kept in one place (package.json is not read at start-up to stay fast).
export const VERSION = '0.1.0';
