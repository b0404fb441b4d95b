// Command-line options of the bench scripts: `--name value`.

/** The value after `--name`, or `fallback` when the option is absent. */
export function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

/** The same, as a number. */
export const numberArg = (name, fallback) => Number(arg(name, fallback));
