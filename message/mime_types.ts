/** Guess a MIME type from a file name's extension (a short common list). */

const TYPES: Record<string, string> = {
  txt: "text/plain",
  text: "text/plain",
  csv: "text/csv",
  htm: "text/html",
  html: "text/html",
  css: "text/css",
  ics: "text/calendar",
  md: "text/markdown",
  xml: "application/xml",
  json: "application/json",
  js: "text/javascript",
  pdf: "application/pdf",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  doc: "application/msword",
  docx:
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  xls: "application/vnd.ms-excel",
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  ppt: "application/vnd.ms-powerpoint",
  pptx:
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  odt: "application/vnd.oasis.opendocument.text",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  ico: "image/vnd.microsoft.icon",
  mp3: "audio/mpeg",
  wav: "audio/wav",
  mp4: "video/mp4",
  webm: "video/webm",
};

/** The MIME type for `filename`'s extension, or `application/octet-stream`. */
export function contentTypeFor(filename: string | undefined): string {
  const dot = filename?.lastIndexOf(".") ?? -1;
  if (!filename || dot < 0) return "application/octet-stream";
  return TYPES[filename.slice(dot + 1).toLowerCase()] ??
    "application/octet-stream";
}
