"""Label formats in and out of a project.

Import: mask_folder.import_masks (PNG/TIFF masks), labelme.import_labelme,
coco.import_coco. Export: export.export_labels (palette PNG, index PNG, overlay),
coco.export_coco (RLE or polygons). rle holds COCO run-length encoding.
"""
