// Test-only: the few outside types the workerd files use, for `tsc -p tests/workerd` (no Workers or Bun type package needed).

declare module "cloudflare:sockets" {
  /** workerd's connect (`@cloudflare/workers-types`' fits CloudflareConnect as is). */
  export const connect: import("../../tls/cloudflare.ts").CloudflareConnect;
}

/** The part of Bun's global the bundler helper uses. */
declare const Bun: {
  build(options: {
    entrypoints: string[];
    target: "browser";
    format: "esm";
    external: string[];
    plugins: {
      name: string;
      setup(build: {
        onResolve(
          options: { filter: RegExp },
          resolve: () => { path: string },
        ): void;
      }): void;
    }[];
  }): Promise<{
    success: boolean;
    logs: unknown[];
    outputs: { text(): Promise<string> }[];
  }>;
  gzipSync(data: Uint8Array): Uint8Array;
};
