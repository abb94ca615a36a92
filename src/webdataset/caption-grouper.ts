// Rows of a caption table -> one entry per image with all its captions (rows of one image are adjacent).

/** Group consecutive caption rows of the same image. */
export class CaptionGrouper {
  private image: string | undefined;
  private captions: string[] = [];

  add(image: string, caption: string): { image: string; captions: string[] } | undefined {
    if (image === this.image) {
      this.captions.push(caption);
      return undefined;
    }
    const done = this.flush();
    this.image = image;
    this.captions = [caption];
    return done;
  }

  flush(): { image: string; captions: string[] } | undefined {
    if (this.image === undefined) return undefined;
    const done = { image: this.image, captions: this.captions };
    this.image = undefined;
    this.captions = [];
    return done;
  }
}
