/**
 * Images in an S3-compatible object store: a manifest plus content-addressed chunks.
 *
 * <pre>
 *   s3://BUCKET/PREFIX/NAME                       an image (PREFIX may be empty or several segments)
 *   BUCKET  PREFIX/images/NAME/manifest.json      its manifest ({@link io.bmcast.imagestore.Manifest}), written last
 *   BUCKET  PREFIX/chunks/ab/abcdef...            a chunk, named by the SHA-256 of its bytes as stored; shared by every
 *                                                 image under PREFIX (dedup across images and versions)
 *   BUCKET  PREFIX/files/abcdef...                a boot file (kernel, initrd), named the same way
 * </pre>
 * Every byte that leaves this package towards a disk has been checked against its name: whichever
 * {@link io.bmcast.imagestore.ChunkSource} it came from (the store, a peer, the node's cache), a chunk counts
 * only once its SHA-256 matches. Depends on transport (an image in the store is one more {@code Export}) and
 * util; the mediator, the agent and the controller depend on it, never the other way.
 */
package io.bmcast.imagestore;
