// Image files as webdataset members: the key for a file path and the member extension for its type.

/** A webdataset key for an image path: the path without its extension, dots replaced by '_'. */
export function keyForImagePath(path: string): string {
  const normalised = path.replace(/\\/g, '/').replace(/^\.?\/+/, '');
  const slash = normalised.lastIndexOf('/');
  const dir = normalised.slice(0, slash + 1);
  const base = normalised.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, dot) : base;
  return (dir + stem.replace(/\./g, '_')).replace(/\.\.\//g, '');
}

const IMAGE_EXTENSIONS: Record<string, string> = {
  jpg: 'jpg',
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  gif: 'gif',
  bmp: 'bmp',
  tif: 'tiff',
  tiff: 'tiff',
};

/** The member extension for an image file ('jpg' for .jpg/.jpeg), or undefined when it is not an image. */
export function imageExtension(fileName: string): string | undefined {
  const dot = fileName.lastIndexOf('.');
  if (dot < 0) return undefined;
  return IMAGE_EXTENSIONS[fileName.slice(dot + 1).toLowerCase()];
}
